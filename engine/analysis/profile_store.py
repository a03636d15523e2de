"""A variant's profile on disk: runs/<id>/profile.json, written atomically, read back checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic_io import atomic_write_json

PROFILE_FILE = "profile.json"


def profile_path(workspace: Any, run_id: str) -> Path:
    """Where a variant's profile lives: its run folder's profile.json."""
    return Path(workspace.run_dir(run_id)) / PROFILE_FILE


def save_profile(workspace: Any, run_id: str, record: dict[str, Any]) -> Path:
    """Write the record so a reader sees the old profile or the whole new one (NaN -> null)."""
    return atomic_write_json(profile_path(workspace, run_id), record)


def load_profile(workspace: Any, run_id: str) -> dict[str, Any] | None:
    """The stored profile of a variant; None when it has none. A damaged file raises
    ValueError naming it (one line)."""
    path = profile_path(workspace, run_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a profile (bad JSON at line {exc.lineno}); "
                         "profile the variant again") from None
    if not isinstance(record, dict) or record.get("schema") != 1:
        raise ValueError(f"{path}: not a schema-1 profile; profile the variant again")
    return record
