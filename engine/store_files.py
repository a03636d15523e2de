"""What a run folder must hold, and the reserve that lets a full disk still be recorded.

A finished variant is only as good as its files: `missing_files` says which of the
files its card promises are gone (a run folder deleted or emptied behind the index's
back), so listings mark it and loading it fails with that reason. It only stats files:
listings call it for every row.

The reserve is a small file kept in the workspace. When the disk fills up during a run,
deleting it frees just enough room for SQLite to record the run as failed with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

RESERVE_FILE = ".space-reserve"
RESERVE_BYTES = 2 << 20


def make_reserve(root: Path) -> None:
    """Create the reserve file when it is missing and the disk has room (never fails)."""
    path = root / RESERVE_FILE
    if path.is_file() and path.stat().st_size >= RESERVE_BYTES:
        return
    with contextlib.suppress(OSError):
        with path.open("wb") as fh:
            fh.write(b"\0" * RESERVE_BYTES)  # real blocks: a sparse file would free nothing
            fh.flush()
        return
    with contextlib.suppress(OSError):  # a partial reserve would only mislead: drop it
        path.unlink()


def missing_files(folder: Path, card: dict[str, Any]) -> str | None:
    """Why a finished variant's folder no longer holds what its card promises; None if it does."""
    if not folder.is_dir():
        return f"its run folder {folder} is missing"
    report = folder / "report.json"
    if not report.is_file():
        return f"{report} is missing"
    files = card.get("files") or card.get("artifacts") or {}  # cards before 0.2: "artifacts"
    if isinstance(files, dict) and files.get("checkpoint") and not (
        folder / "checkpoint" / "workbench.json"
    ).is_file():
        return f"its checkpoint {folder / 'checkpoint'} is missing or incomplete"
    onnx = card.get("onnx") or {}
    deployable = [onnx] + [a for a in card.get("artifacts") or [] if isinstance(a, dict)]
    for entry in deployable:  # the fp32 file and every quantized file the card measured
        if entry.get("path") and not (folder / Path(entry["path"]).name).is_file():
            return f"its ONNX file {folder / Path(entry['path']).name} is missing"
    return None


def park_run_folder(folder: Path) -> Path | None:
    """Move a run folder aside (one atomic rename) before its index row goes; None if absent.

    A crash between the two steps leaves a `.deleting-*` folder, never a row without files.
    """
    if not folder.exists():
        return None
    parked = folder.with_name(f".deleting-{folder.name}")
    os.replace(folder, parked)
    return parked


def unpark_run_folder(parked: Path | None, folder: Path) -> None:
    """Put a parked folder back (the index row could not be removed)."""
    if parked is not None:
        with contextlib.suppress(OSError):
            os.replace(parked, folder)


def remove_parked(parked: Path | None) -> None:
    """Delete a parked run folder and everything in it."""
    if parked is not None:
        shutil.rmtree(parked, ignore_errors=True)
