"""Atomic file writes, strict JSON, and cleaning up what a killed writer left behind.

Writers put their bytes under a temp name beginning with '.' and ending in '.tmp' in the
target folder, fsync, then rename: readers see the old file or the whole new one. A
process killed mid-write leaves only such temp names, which `remove_temp_litter` clears.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


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


def finite_json(value: Any) -> Any:
    """`value` with every NaN/inf float replaced by None, so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def strict_json(value: Any, indent: int | None = None) -> str:
    """JSON text without NaN/Infinity literals (which other JSON readers reject)."""
    return json.dumps(finite_json(value), indent=indent, allow_nan=False)


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, strict_json(data, indent=2) + "\n")


def remove_temp_litter(folder: Path) -> list[str]:
    """Delete the '.NAME.*.tmp' files and folders a killed writer left in `folder` (recursive)."""
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for p in sorted(folder.rglob(".*.tmp"), key=lambda q: len(q.parts), reverse=True):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(str(p.relative_to(folder)))
        except OSError:
            continue
    return removed
