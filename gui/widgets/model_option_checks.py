"""Checks for the Model page's "More options" as the user types: one line naming the fix.

Pure functions (no Qt, no torch): they look only at what is on disk, so a typo shows at once
instead of after a load. The engine still checks everything again when it loads the model.
"""

from __future__ import annotations

from pathlib import Path

# what a Hugging Face tokenizer folder holds (any one of them is enough for AutoTokenizer)
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "vocab.txt", "spiece.model",
    "tokenizer.model", "sentencepiece.bpe.model",
)
MAX_TOKEN_ID = 2**31 - 1  # a QSpinBox holds int32; no vocabulary comes near it


def tokenizer_problem(text: str) -> str:
    """'' when `text` may name a tokenizer (empty = none), else what to fix."""
    path = _path(text)
    if path is None:
        return ""
    if not path.exists():
        return f"{path} does not exist; choose a tokenizer folder, a tokenizer.json or a saved tokenizer"
    if path.is_dir() and not any((path / name).is_file() for name in TOKENIZER_FILES):
        return (
            f"{path.name}/ holds no tokenizer.json or tokenizer_config.json; choose the folder "
            "the tokenizer was saved to (tokenizer.save_pretrained) or its tokenizer.json"
        )
    return ""


def class_folder_problem(text: str) -> str:
    """'' when `text` may be the folder holding a pickled module's class, else what to fix."""
    path = _path(text)
    if path is None:
        return ""
    if not path.exists():
        return f"{path} does not exist; choose the folder that holds the model's .py file"
    if not path.is_dir():
        return f"{path.name} is a file; choose the folder that holds it ({path.parent})"
    if not _has_python(path):
        return f"{path.name}/ holds no .py file; choose the folder with the module that defines the class"
    return ""


def range_problem(low: int, high: int) -> str:
    """'' when [low, high) is a usable range of token ids, else what to fix."""
    if high <= low:
        return f"needs low < high (ids are drawn from [low, high)); got [{low}, {high})"
    return ""


def _path(text: str) -> Path | None:
    cleaned = text.strip()
    return Path(cleaned).expanduser() if cleaned else None


def _has_python(folder: Path) -> bool:
    """A .py module in `folder`, or a package (a sub-folder with .py files) one level down."""
    try:
        if any(folder.glob("*.py")):
            return True
        return any(sub.is_dir() and any(sub.glob("*.py")) for sub in folder.iterdir())
    except OSError:  # unreadable: let the engine's load say what is wrong
        return True
