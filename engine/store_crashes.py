"""Runs whose process died: found by their lock (or, for old runs, pid + host) and marked crashed.

A mixin for engine.store.Workspace, which supplies _connect, lock_path and run_dir.
"""

from __future__ import annotations

import os
import socket
import time

from engine import store_locks
from engine.atomic_io import remove_temp_litter
from engine.store_db import WorkspaceError

CRASHED = "the process running it ended without finishing"


class WorkspaceCrashes:
    """Workspace methods that find and record runs left 'running' by a process that is gone."""

    def running_elsewhere(self, run_id: str) -> str | None:
        """Who is running `run_id` when a live process holds its lock; None otherwise."""
        lock = self.lock_path(run_id)
        return (store_locks.holder(lock) or "another process") if store_locks.is_held(lock) else None

    def mark_crashed(self, run_id: str, reason: str = CRASHED) -> bool:
        """Record a 'running' run as crashed (and clear its temp files); False if it was not."""
        with self._connect() as db:
            # conditional: a run that finished meanwhile keeps its status
            changed = db.execute(
                "UPDATE variants SET status='crashed', error=?, updated=? "
                "WHERE id=? AND status='running'",
                (reason, time.time(), run_id),
            ).rowcount
        if changed:
            remove_temp_litter(self.run_dir(run_id))
        return bool(changed)

    def _mark_crashed(self) -> int:
        """Runs left 'running' by a process that no longer exists crashed; returns how many."""
        with self._connect() as db:
            rows = db.execute("SELECT id, pid, host FROM variants WHERE status='running'").fetchall()
        n = 0
        for r in rows:
            lock = self.lock_path(r["id"])
            if lock.exists():
                dead = not store_locks.is_held(lock)
            else:  # a run registered before run locks existed: the old pid + host test
                dead = r["host"] == socket.gethostname() and bool(r["pid"]) and not _pid_alive(r["pid"])
            if dead and self.mark_crashed(r["id"]):
                n += 1
        return n

    def _mark_crashed_quietly(self) -> int:
        try:
            return self._mark_crashed()
        except WorkspaceError:  # e.g. a full disk: report what is recorded
            return 0


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
