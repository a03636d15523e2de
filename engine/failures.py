"""One line a person can act on for whatever made a run fail.

A full disk and an exhausted memory surface as many different exceptions (OSError 28,
torch's "PytorchStreamWriter failed writing file", "[enforce fail at alloc_cpu.cpp]",
SQLite's "database or disk is full"); each gets the fix that applies (free space, lower
the batch size) instead of the low-level text or a hint about an unrelated setting.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from engine.config_fields import ConfigError
from engine.export.errors import exception_chain
from engine.recipe import Recipe

LOW_SPACE_BYTES = 8 << 20  # below this much free space a failed write is taken as "disk full"

_OOM_MARKS = (
    "out of memory",
    "can't allocate memory",
    "cannot allocate memory",
    "alloc_cpu",
    "defaultcpuallocator",
    "bad_alloc",
)


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether `exc` (or what caused it) is a write that failed for lack of space."""
    for e in exception_chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e).lower()
        if "no space left" in text or "disk is full" in text or "disk full" in text:
            return True
    writer = ("write", "inline_container", "unexpected pos", "streamwriter")
    if folder is not None and any(
        isinstance(e, OSError) or any(w in str(e).lower() for w in writer) for e in exception_chain(exc)
    ):
        try:  # torch's C++ writer says only "file write failed"; the free space tells why
            return shutil.disk_usage(folder).free < LOW_SPACE_BYTES
        except OSError:
            return False
    return False


def is_out_of_memory(exc: BaseException) -> bool:
    for e in exception_chain(exc):
        if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":
            return True
        if isinstance(e, RuntimeError) and any(m in str(e).lower() for m in _OOM_MARKS):
            return True
    return False


def _oom_fix(recipe: Recipe, stage: str) -> str:
    t, d, x = recipe.train, recipe.data, recipe.export
    if stage == "export":
        return (f"lower export.latency_batch ({x.latency_batch}) or export.latency_seq "
                f"({x.latency_seq}), or turn export.check off")
    return (f"lower train.batch_size ({t.batch_size}) or data.max_length ({d.max_length}), "
            "or use a smaller model")


def describe_failure(exc: BaseException, recipe: Recipe, stage: str, folder: Path | None) -> str:
    """The run's failure as one line: what happened, during which stage, and what to do."""
    if is_disk_full(exc, folder):
        where = f" on {folder}" if folder is not None else ""
        return (f"no space left on device{where} during {stage}; free some disk space, then "
                "run the recipe again")
    if is_out_of_memory(exc):
        return f"out of memory during {stage}; {_oom_fix(recipe, stage)}"
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0][:300]
    if isinstance(exc, (ConfigError, ValueError, FileNotFoundError)):
        return first
    return f"{type(exc).__name__} during {stage}: {first}"
