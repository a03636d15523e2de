"""Opening `workspace.sqlite`: the schema, and one actionable line for every way it can fail.

SQLite reports a damaged file, a foreign one, a lock held elsewhere or a full disk as
generic exceptions at the first query. Every such failure becomes a `WorkspaceError`
naming the file and what to do, so the CLI prints one line and the GUI a dialog.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

APP_ID = 0x57424E43  # 'WBNC': marks a database as a workbench workspace
SCHEMA_VERSION = 1
REQUIRED_COLUMNS = {"id", "parent", "name", "status", "recipe", "card", "error", "created", "updated"}

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


class WorkspaceError(ValueError):
    """A workspace that cannot be used as it is; str() names the file and the fix."""


def who_holds(path: Path) -> str:
    """The processes that have `path` (or its journal) open, found through /proc; '' if none."""
    targets = {str(path), f"{path}-journal", f"{path}-wal"}
    found: list[str] = []
    for pid in filter(str.isdigit, _listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        fd_dir = f"/proc/{pid}/fd"
        for fd in _listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    found.append(f"pid {pid} ({_cmdline(pid)})")
                    break
            except OSError:
                continue
    return ", ".join(found[:3])


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _cmdline(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)[:120] or "?"


def describe(exc: sqlite3.Error | OSError, db_path: Path) -> WorkspaceError:
    """The one-line WorkspaceError for a SQLite (or file system) failure on `db_path`."""
    text = str(exc).lower()
    other = "; or choose another workspace folder (--workspace, or File → Open workspace…)"
    if "locked" in text or "busy" in text:
        who = who_holds(db_path) or "another process"
        return WorkspaceError(
            f"{db_path} is locked by {who}; wait for it to finish or stop it, then try again"
        )
    if "full" in text or getattr(exc, "errno", None) == 28:
        return WorkspaceError(
            f"no space left on device for {db_path}; free some disk space and try again"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return WorkspaceError(
            f"{db_path} is damaged or not a workspace database ({exc}); move it aside to start "
            f"an empty index (the run folders stay in runs/){other}"
        )
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return WorkspaceError(f"{db_path} cannot be written ({exc}); check its permissions{other}")
    if "unable to open" in text:
        return WorkspaceError(f"cannot open {db_path} ({exc}); check the folder exists and its "
                              f"permissions{other}")
    return WorkspaceError(f"{db_path}: {exc}{other}")


def check_and_create_schema(db: sqlite3.Connection, db_path: Path) -> None:
    """Create the schema in a new database; refuse a database some other program made."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    foreign = (
        f"{db_path} is a database of another program, not a workbench workspace; choose "
        "another workspace folder (the workbench never changes a database it did not make)"
    )
    if app_id not in (0, APP_ID) or (tables and "variants" not in tables):
        raise WorkspaceError(foreign)
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"{db_path} was written by a newer workbench (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); update the workbench or choose another workspace folder"
        )
    if "variants" in tables:
        cols = {r[1] for r in db.execute("PRAGMA table_info(variants)")}
        missing = sorted(REQUIRED_COLUMNS - cols)
        if missing:
            raise WorkspaceError(f"{foreign} (its variants table lacks {', '.join(missing)})")
    ok = db.execute("PRAGMA quick_check").fetchone()[0]
    if ok != "ok":
        raise WorkspaceError(
            f"{db_path} is damaged ({ok}); move it aside to start an empty index (the run "
            "folders stay in runs/), or restore it from a backup"
        )
    if app_id != APP_ID or version != SCHEMA_VERSION or "variants" not in tables:
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA application_id = {APP_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
