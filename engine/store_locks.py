"""Locks that die with their process: who is running a run, who is building a baseline.

A run holds an exclusive `flock` on `locks/<run id>.lock` for as long as its process
works on it. The kernel drops the lock when the process ends however it ends (kill -9,
power loss of a container), so "running, but nobody holds its lock" means crashed,
whatever the hostname or pid reuse says. `flock` locks belong to the open file, so a
second open of the same file conflicts even inside one process (the tests rely on it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_HELD: dict[str, int] = {}  # lock path -> fd, for the locks this process holds


def _owner_line() -> str:
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200]
    return f"pid {os.getpid()} on {socket.gethostname()}: {cmd or 'python'}\n"


def try_acquire(path: Path) -> bool:
    """Take the exclusive lock at `path` without waiting; True when this call got it."""
    key = str(path)
    if key in _HELD:
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    with contextlib.suppress(OSError):  # who holds it is a courtesy for messages, not needed
        os.ftruncate(fd, 0)
        os.write(fd, _owner_line().encode())
    _HELD[key] = fd
    return True


def release(path: Path) -> None:
    """Drop a lock this process holds (a no-op when it holds none)."""
    fd = _HELD.pop(str(path), None)
    if fd is not None:
        os.close(fd)  # closing the file releases the flock


def is_held(path: Path) -> bool:
    """Whether some live process (this one included) holds the lock at `path`."""
    if str(path) in _HELD:
        return True
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock we may just have taken
    return False


def holder(path: Path) -> str:
    """What the lock file says about its holder (pid, host, command), or ''."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()[:240]
    except OSError:
        return ""


@contextlib.contextmanager
def waiting_lock(
    path: Path, on_wait: Callable[[str], None], poll: Callable[[], None], every_s: float = 0.2
) -> Iterator[None]:
    """Hold the lock at `path` for the block, waiting for it while another process has it.

    `on_wait(holder)` is called once when the lock is busy; `poll()` runs between tries,
    so a cancelled job stops waiting (it raises there).
    """
    told = False
    while not try_acquire(path):
        if not told:
            on_wait(holder(path))
            told = True
        poll()
        time.sleep(every_s)
    try:
        yield
    finally:
        release(path)


def key_lock_name(prefix: str, key: str) -> str:
    """A short, file-name-safe lock name for an arbitrary key."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"
