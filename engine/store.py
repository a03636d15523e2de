"""Workspace store: `workspace.sqlite` indexes variants; each run has its own folder.

Every artifact is written atomically (temp name, fsync, rename), and a run only
becomes `finished` after all of its artifacts are in place, so a crash or a cancel
never leaves a half-written run that looks done. Each call opens its own SQLite
connection, which makes the store safe to read from the GUI thread while a job
thread writes.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIN_STATE = "train_state.pt"  # in a run folder while the run can still be resumed

SCHEMA = """
CREATE TABLE IF NOT EXISTS variants (
    id TEXT PRIMARY KEY,
    parent TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,          -- running | finished | cancelled | failed | crashed
    recipe TEXT NOT NULL,          -- YAML
    card TEXT NOT NULL DEFAULT '{}',  -- JSON variant card (see engine.report)
    error TEXT,
    pid INTEGER,
    host TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS variants_name ON variants(name);
"""

STATUSES = ("running", "finished", "cancelled", "failed", "crashed")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


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


class Workspace:
    """A folder of runs with a SQLite index; create it by opening it."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"workspace {self.root} is a file; give a folder path")
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "workspace.sqlite"
        with self._connect() as db:
            db.executescript(SCHEMA)
        self._mark_crashed()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    # -- runs --------------------------------------------------------------------
    def new_run(self, name: str, recipe_yaml: str, parent: str | None = None) -> Variant:
        """Register a running variant and create its folder with the recipe in it."""
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True)
        atomic_write_text(folder / "recipe.yaml", recipe_yaml)
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO variants (id, parent, name, status, recipe, pid, host, created, updated)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (run_id, parent, name, recipe_yaml, os.getpid(), socket.gethostname(), now, now),
            )
        return self.get(run_id)

    def reopen(self, run_id: str) -> Variant:
        """Mark an unfinished run as running again in this process (to resume it)."""
        v = self.get(run_id)
        if v.status in ("finished", "running"):
            raise ValueError(f"run {run_id} is {v.status}; only a cancelled, failed or crashed "
                             "run can be resumed")
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
                    (status, error, json.dumps(card), time.time(), run_id),
                )

    def delete(self, run_id: str) -> None:
        """Forget a variant (its folder is left on disk)."""
        with self._connect() as db:
            db.execute("DELETE FROM variants WHERE id=?", (run_id,))

    # -- queries -----------------------------------------------------------------
    def variants(self, status: str | None = None) -> list[Variant]:
        """All variants, oldest first."""
        q = (
            "SELECT * FROM variants"
            + (" WHERE status=?" if status else "")
            + " ORDER BY created, id"
        )
        with self._connect() as db:
            rows = db.execute(q, (status,) if status else ()).fetchall()
        return [self._row(r) for r in rows]

    def get(self, run_id: str) -> Variant:
        with self._connect() as db:
            row = db.execute("SELECT * FROM variants WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no variant {run_id!r} in workspace {self.root}")
        return self._row(row)

    def resolve(self, name_or_id: str) -> Variant:
        """A variant by id, or the newest finished variant with that name."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM variants WHERE id=?", (name_or_id,)).fetchone()
            if row is None:
                row = db.execute(
                    "SELECT * FROM variants WHERE name=? AND status='finished' "
                    "ORDER BY created DESC LIMIT 1",
                    (name_or_id,),
                ).fetchone()
        if row is None:
            raise KeyError(
                f"no finished variant named or numbered {name_or_id!r} in workspace {self.root}; "
                "run its recipe first (workbench-cli list shows what is there)"
            )
        return self._row(row)

    @staticmethod
    def _row(r: sqlite3.Row) -> Variant:
        return Variant(
            id=r["id"],
            parent=r["parent"],
            name=r["name"],
            status=r["status"],
            recipe=r["recipe"],
            card=json.loads(r["card"] or "{}"),
            error=r["error"],
            created=r["created"],
            updated=r["updated"],
        )

    def _mark_crashed(self) -> None:
        """Runs left 'running' by a process that no longer exists on this host crashed."""
        host = socket.gethostname()
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, pid, host FROM variants WHERE status='running'"
            ).fetchall()
            for r in rows:
                if r["host"] == host and r["pid"] and not _pid_alive(r["pid"]):
                    db.execute(
                        "UPDATE variants SET status='crashed', error=?, updated=? WHERE id=?",
                        ("the process running it ended without finishing", time.time(), r["id"]),
                    )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_workspace() -> Path:
    """$WORKBENCH_WORKSPACE, else ~/.local/share/workbench/workspace."""
    env = os.environ.get("WORKBENCH_WORKSPACE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "workbench" / "workspace"
