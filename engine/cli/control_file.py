"""`workbench-cli run --control-file PATH`: pause and resume a run from outside the process.

The file holds one word, `run` or `pause`. A small watcher thread in the process that owns
the job's JobControl (a plain run, or rank 0 under torchrun) reads it a few times a second
and pauses or resumes the job when the word changes; under torchrun the per-step agreement
(`agreed_checkpoint`) then holds every rank. Only changes act: a cancel (Ctrl+C, SIGINT)
wakes a paused job even while the file still says `pause`. A missing file or any other
content changes nothing. The writer (the GUI) replaces the file atomically.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

WORDS = ("run", "pause")
POLL_S = 0.2


class Pausable(Protocol):
    def pause(self) -> None: ...

    def resume(self) -> None: ...


def read_control(path: Path) -> str | None:
    """'run' or 'pause' as the file says; None for a missing, unreadable or other file."""
    try:
        word = path.read_text(encoding="utf-8").strip().lower()
    except (OSError, UnicodeDecodeError):
        return None
    return word if word in WORDS else None


def write_control(path: Path, word: str) -> None:
    """Replace the file with `word` at once (a reader never sees it half written)."""
    if word not in WORDS:
        raise ValueError(f"control word {word!r}: use one of {', '.join(WORDS)}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(word + "\n", encoding="utf-8")
    os.replace(tmp, path)


class ControlWatcher:
    """Polls `path` every `interval` seconds and pauses/resumes `job` when the word changes."""

    def __init__(self, path: Path, job: Pausable, interval: float = POLL_S):
        self.path, self.job, self.interval = Path(path), job, interval
        self.applied: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workbench-control", daemon=True)

    def start(self) -> ControlWatcher:
        self.poll()  # a file that already says pause holds the job from its start
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.interval + 1)

    def poll(self) -> str | None:
        """Read the file once; act on a changed word. The word read (None: nothing usable)."""
        word = read_control(self.path)
        if word is not None and word != self.applied:
            if word == "pause":
                self.job.pause()
            elif self.applied is not None:  # 'run' at the start: running already
                self.job.resume()
            self.applied = word
        return word

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()


@contextlib.contextmanager
def watching(path: Path | None, job: Pausable) -> Iterator[ControlWatcher | None]:
    """A watcher for the block's length, or nothing without a path."""
    if path is None:
        yield None
        return
    watcher = ControlWatcher(path, job).start()
    try:
        yield watcher
    finally:
        watcher.stop()
