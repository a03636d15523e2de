"""Deleting and renaming variants: refused while a live process runs them.

A run being written holds its lock (`engine.store_locks`); deleting or renaming it then
would pull files from under that process, so both ask the lock first. A delete moves the
run folder aside in one rename before the index row goes, so a crash in between leaves a
`.deleting-*` folder, never an index row without its files.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from engine import store_locks
from engine.atomic_io import atomic_write_json, strict_json
from engine.recipe import MAX_NAME
from engine.store_files import park_run_folder, remove_parked, unpark_run_folder

if TYPE_CHECKING:  # the store imports this module
    from engine.store import Variant


def name_problem(name: str) -> str | None:
    """What is wrong with a variant name (the rules of a recipe's name), or None."""
    if not isinstance(name, str) or not name.strip():
        return "is empty; give the variant a name"
    if len(name) > MAX_NAME or "\n" in name or "\r" in name:
        return f"must be one line of at most {MAX_NAME} characters"
    return None


class WorkspaceEdits:
    """Workspace.delete / rename (mixed into engine.store.Workspace)."""

    def delete(self, run_id: str) -> Variant:
        """Remove a variant: its index row and its run folder. A running variant is refused."""
        v = self._editable(run_id, "deleted")
        lock = self.lock_path(run_id)
        if not store_locks.try_acquire(lock):  # someone started resuming it just now
            raise ValueError(f"{v.name} ({v.id}) is in use by {store_locks.holder(lock) or 'another process'}; "
                             "stop that process first")
        try:
            trash = park_run_folder(self.run_dir(run_id))
            try:
                with self._connect() as db:
                    db.execute("DELETE FROM variants WHERE id=?", (run_id,))
            except BaseException:
                unpark_run_folder(trash, self.run_dir(run_id))
                raise
            remove_parked(trash)
        finally:
            store_locks.release(lock)
            with contextlib.suppress(OSError):
                lock.unlink()
        return v

    def rename(self, run_id: str, name: str) -> Variant:
        """Give a variant a new name (checked like a recipe name, unique in the workspace)."""
        v = self._editable(run_id, "renamed")
        problem = name_problem(name)
        if problem:
            raise ValueError(f"name {problem}")
        with self._connect() as db:
            taken = db.execute("SELECT id FROM variants WHERE name=? AND id<>?", (name, run_id)).fetchone()
            if taken:
                raise ValueError(f"name {name!r} is already used by variant {taken['id']}; choose another name")
            card = dict(v.card, name=name) if v.card else v.card
            if card and (self.run_dir(run_id) / "report.json").is_file():
                atomic_write_json(self.run_dir(run_id) / "report.json", card)
            db.execute("UPDATE variants SET name=?, card=?, updated=? WHERE id=?",
                       (name, strict_json(card or {}), time.time(), run_id))
        return self.get(run_id)

    def _editable(self, run_id: str, what: str) -> Variant:
        """The variant, unless a live process is running it (a dead one's run is crashed first)."""
        v = self.get(run_id)
        if v.status == "running":
            who = self.running_elsewhere(run_id)
            if who:
                raise ValueError(f"{v.name} ({v.id}) is running ({who}); cancel it or wait for it "
                                 f"to finish before it can be {what}")
            self.mark_crashed(run_id)
            v = self.get(run_id)
        return v

