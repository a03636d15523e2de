"""Reading text files whatever their encoding, and checking data paths exist and hold something."""

from __future__ import annotations

from pathlib import Path

from engine.data.bundle import DataLoadError


def require_path(path: Path) -> None:
    """Raise when the data file or folder does not exist."""
    if not path.exists():
        raise DataLoadError(f"data file not found: {path}")


def read_text(path: Path) -> str:
    """UTF-8 text (BOM dropped); Latin-1 for the odd legacy file rather than failing."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_nonempty_text(path: Path) -> str:
    """The text of a file that must exist and hold more than whitespace."""
    require_path(path)
    if path.is_dir():
        raise DataLoadError(f"{path} is a folder; text data needs one plain text file")
    text = read_text(path)
    if not text.strip():
        raise DataLoadError(f"data file {path} is empty")
    return text
