"""Workspace store: `workspace.sqlite` indexes variants; each run has its own folder.

Every artifact is written atomically (temp name, fsync, rename), and a run only
becomes `finished` after all of its artifacts are in place, so a crash or a cancel
never leaves a half-written run that looks done. Each call opens its own SQLite
connection, which makes the store safe to read from the GUI thread while a job
thread writes. A running run holds a lock that dies with its process
(`engine.store_locks`), which is how a run whose process was killed is recognised.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import store_locks
from engine.atomic_io import (  # noqa: F401  (re-exported: the store's public write helpers)
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    remove_temp_litter,
    strict_json,
)
from engine.store_crashes import CRASHED, WorkspaceCrashes  # noqa: F401  (CRASHED: re-exported)
from engine.store_db import SCHEMA, WorkspaceError, check_and_create_schema, describe  # noqa: F401
from engine.store_edit import WorkspaceEdits, name_problem  # noqa: F401  (name_problem: public)
from engine.store_files import RESERVE_FILE, make_reserve, missing_files

TRAIN_STATE = "train_state.pt"  # in a run folder while the run can still be resumed
STATUSES = ("running", "finished", "cancelled", "failed", "crashed")
DONE = ("finished", "cancelled", "failed", "crashed")


@dataclass
class Variant:
    id: str
    parent: str | None
    name: str
    status: str
    recipe: str
    card: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created: float = 0.0
    updated: float = 0.0
    missing: str | None = None  # a finished variant whose files are gone or damaged: why


class Workspace(WorkspaceEdits, WorkspaceCrashes):
    """A folder of runs with a SQLite index; create it by opening it."""

    busy_timeout_s: float = 15.0  # how long a write waits for another process's transaction

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.db_path = self.root / "workspace.sqlite"
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is a file; give a folder path")
        runs = self.root / "runs"
        if runs.exists() and not runs.is_dir():
            raise WorkspaceError(
                f"{runs} is a file, but the workspace keeps its run folders there; move it "
                "aside or choose another workspace folder"
            )
        try:
            runs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create the workspace folder {self.root} ({exc.strerror}); choose a "
                "folder you can write to"
            ) from exc
        if self.db_path.exists() and not self.db_path.is_file():
            raise WorkspaceError(f"{self.db_path} is a folder; move it aside")
        with self._connect() as db:
            check_and_create_schema(db, self.db_path)
        make_reserve(self.root)
        with contextlib.suppress(WorkspaceError):  # read-only use (a full disk) still works
            self._mark_crashed()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.db_path, timeout=self.busy_timeout_s)
        except sqlite3.Error as exc:
            raise describe(exc, self.db_path) from None
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits, or rolls back on error
                yield db
        except sqlite3.Error as exc:
            raise describe(exc, self.db_path) from None
        finally:
            db.close()

    # -- runs --------------------------------------------------------------------
    def new_run(self, name: str, recipe_yaml: str, parent: str | None = None) -> Variant:
        """Register a running variant (holding its lock) and create its folder with the recipe."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        lock = self.lock_path(run_id)
        store_locks.try_acquire(lock)  # a fresh id: nobody else can hold it
        folder = self.run_dir(run_id)
        try:
            folder.mkdir(parents=True)
            atomic_write_text(folder / "recipe.yaml", recipe_yaml)
            now = time.time()
            with self._connect() as db:
                db.execute(
                    "INSERT INTO variants (id, parent, name, status, recipe, pid, host, created, "
                    "updated) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                    (run_id, parent, name, recipe_yaml, os.getpid(), socket.gethostname(), now,
                     now),
                )
        except BaseException:  # e.g. a full disk: leave no half-made run behind
            store_locks.release(lock)
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                lock.unlink()
            raise
        return self.get(run_id)

    def reopen(self, run_id: str) -> Variant:
        """Mark an unfinished run as running again in this process (to resume it)."""
        v = self.get(run_id)
        if v.status in ("finished", "running"):
            raise ValueError(f"run {run_id} is {v.status}; only a cancelled, failed or crashed "
                             "run can be resumed")
        if not store_locks.try_acquire(self.lock_path(run_id)):
            raise ValueError(f"run {run_id} is being resumed by another process "
                             f"({store_locks.holder(self.lock_path(run_id))})")
        with self._connect() as db:
            db.execute(
                "UPDATE variants SET status='running', error=NULL, pid=?, host=?, updated=? "
                "WHERE id=?",
                (os.getpid(), socket.gethostname(), time.time(), run_id),
            )
        return self.get(run_id)

    def resumable(self, run_id: str) -> bool:
        """Whether an unfinished run left a training state to continue from."""
        try:
            status = self.get(run_id).status
        except KeyError:
            return False
        return status not in ("finished", "running") and (self.run_dir(run_id) / TRAIN_STATE).is_file()

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def lock_path(self, run_id: str) -> Path:
        return self.root / "locks" / f"{run_id}.lock"

    def finish(self, run_id: str, card: dict[str, Any]) -> None:
        """Mark a run finished with its card; call only once every artifact is written."""
        atomic_write_json(self.run_dir(run_id) / "report.json", card)
        self._set(run_id, "finished", card=card)

    def mark(
        self, run_id: str, status: str, error: str | None = None, card: dict | None = None
    ) -> None:
        """Record a run as cancelled / failed (its partial files stay for inspection)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._set(run_id, status, error=error, card=card)

    def _set(
        self, run_id: str, status: str, error: str | None = None, card: dict | None = None
    ) -> None:
        with self._connect() as db:
            if card is None:
                db.execute(
                    "UPDATE variants SET status=?, error=?, updated=? WHERE id=?",
                    (status, error, time.time(), run_id),
                )
            else:
                db.execute(
                    "UPDATE variants SET status=?, error=?, card=?, updated=? WHERE id=?",
                    (status, error, strict_json(card), time.time(), run_id),
                )
        if status in DONE:  # the status is written first: a lock-free 'running' means crashed
            store_locks.release(self.lock_path(run_id))

    def release_reserve(self) -> bool:
        """Free the workspace's reserve file so a failure can still be recorded on a full disk."""
        try:
            (self.root / RESERVE_FILE).unlink()
            return True
        except OSError:
            return False

    @contextmanager
    def baseline_lock(
        self, key: str, on_wait: Callable[[str], None], poll: Callable[[], None]
    ) -> Iterator[None]:
        """Only one process at a time looks up or builds the baseline for `key`."""
        path = self.root / "locks" / store_locks.key_lock_name("baseline", key)
        with store_locks.waiting_lock(path, on_wait, poll):
            yield

    # -- queries -----------------------------------------------------------------
    def variants(self, status: str | None = None) -> list[Variant]:
        """All variants, oldest first (runs whose process died are marked crashed first)."""
        q = "SELECT * FROM variants" + (" WHERE status=?" if status else "") + " ORDER BY created, id"
        with self._connect() as db:
            rows = db.execute(q, (status,) if status else ()).fetchall()
        if any(r["status"] == "running" for r in rows) and self._mark_crashed_quietly():
            with self._connect() as db:
                rows = db.execute(q, (status,) if status else ()).fetchall()
        return [self._row(r) for r in rows]

    def get(self, run_id: str) -> Variant:
        with self._connect() as db:
            row = db.execute("SELECT * FROM variants WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no variant {run_id!r} in workspace {self.root}")
        return self._row(row)

    def resolve(self, name_or_id: str, any_status: bool = False) -> Variant:
        """A variant by id, or the newest finished (with any_status: newest) one with that name."""
        status = "" if any_status else "AND status='finished' "
        with self._connect() as db:
            row = db.execute("SELECT * FROM variants WHERE id=?", (name_or_id,)).fetchone()
            if row is None:
                row = db.execute(
                    f"SELECT * FROM variants WHERE name=? {status}ORDER BY created DESC LIMIT 1",
                    (name_or_id,),
                ).fetchone()
        if row is None:
            raise KeyError(
                f"no {'' if any_status else 'finished '}variant named or numbered {name_or_id!r} "
                f"in workspace {self.root}; run its recipe first (workbench-cli list shows what "
                "is there)"
            )
        return self._row(row)

    def one(self, name_or_id: str) -> Variant:
        """A variant by id, or by a name only one variant has (any status); KeyError when none
        matches, ValueError when several share the name."""
        v = self.resolve(name_or_id, any_status=True)
        if v.id != name_or_id:
            same = [x.id for x in self.variants() if x.name == name_or_id]
            if len(same) > 1:
                raise ValueError(f"{len(same)} variants are named {name_or_id!r} ({', '.join(same)}); "
                                 "give the id (workbench-cli list shows them)")
        return v

    def _row(self, r: sqlite3.Row) -> Variant:
        try:
            card = json.loads(r["card"] or "{}")
        except json.JSONDecodeError:
            card = {}
        v = Variant(
            id=r["id"],
            parent=r["parent"],
            name=r["name"],
            status=r["status"],
            recipe=r["recipe"],
            card=card if isinstance(card, dict) else {},
            error=r["error"],
            created=r["created"],
            updated=r["updated"],
        )
        if v.status == "finished":
            v.missing = missing_files(self.run_dir(v.id), v.card)
        return v


def default_workspace() -> Path:
    """$WORKBENCH_WORKSPACE, else ~/.local/share/workbench/workspace."""
    env = os.environ.get("WORKBENCH_WORKSPACE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "workbench" / "workspace"


def existing_workspace(path: str | Path | None) -> Workspace | None:
    """The workspace at `path` (default: the user's) when one is there, else None; reading
    commands use it so that a mistyped folder never becomes an empty workspace."""
    root = Path(path or default_workspace()).expanduser()
    return Workspace(root) if (root / "workspace.sqlite").is_file() else None
