"""Reading labelled text: CSV/TSV, JSONL (or a JSON list), or a folder with one subfolder per label."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from engine.data.bundle import DataLoadError
from engine.data.text_files import TextDecoding, read_text, require_path


def _missing_field(path: Path, field: str, found: list[str], setting: str) -> DataLoadError:
    """Error naming the absent column and the ones present."""
    cols = ", ".join(found) or "none"
    return DataLoadError(
        f"data file {path} has no column {field!r} (columns found: {cols}); set data.{setting}",
        f"data.{setting}",
    )


def read_csv(
    path: Path, text_field: str, label_field: str, dec: TextDecoding | None = None
) -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV (or TSV) with a header row."""
    text = read_text(path, dec)
    if not text.strip():
        raise DataLoadError(f"data file {path} is empty")
    csv.field_size_limit(1 << 30)  # news articles in one cell exceed the 128 KiB default
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    found = [c for c in (reader.fieldnames or []) if c is not None]
    for field, setting in ((text_field, "text_field"), (label_field, "label_field")):
        if field not in found:
            raise _missing_field(path, field, found, setting)
    texts, labels = [], []
    for row in reader:
        t, label = row.get(text_field), row.get(label_field)
        if t and t.strip() and label is not None and str(label).strip():
            texts.append(t)
            labels.append(str(label).strip())
    return texts, labels


def _records(path: Path, dec: TextDecoding | None = None) -> list[Any]:
    """Objects of a JSONL file (or of a JSON list), with line-numbered errors."""
    text = read_text(path, dec)
    if not text.strip():
        raise DataLoadError(f"data file {path} is empty")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataLoadError(f"data file {path} is not valid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise DataLoadError(f"data file {path} must hold a JSON list of objects")
        return data
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataLoadError(f"line {number} of {path} is not valid JSON ({exc.msg})") from exc
    return records


def read_jsonl(
    path: Path, text_field: str, label_field: str, dec: TextDecoding | None = None
) -> tuple[list[str], list[str]]:
    """(texts, labels) from JSON lines, each an object holding both fields."""
    texts, labels = [], []
    for number, rec in enumerate(_records(path, dec), start=1):
        if not isinstance(rec, dict):
            raise DataLoadError(f"record {number} of {path} is not a JSON object")
        for field, setting in ((text_field, "text_field"), (label_field, "label_field")):
            if field not in rec:
                raise _missing_field(path, field, sorted(rec), setting)
        t, label = rec[text_field], rec[label_field]
        if isinstance(t, str) and t.strip() and label is not None and str(label).strip():
            texts.append(t)
            labels.append(str(label).strip())
    return texts, labels


def read_label_folders(folder: Path, dec: TextDecoding | None = None) -> tuple[list[str], list[str]]:
    """(texts, labels) from folder/<label>/*.txt, in a stable (sorted) order."""
    texts, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(sub.glob("*.txt")):
            t = read_text(file, dec)
            if t.strip():
                texts.append(t)
                labels.append(sub.name)
    return texts, labels


def read_labelled(
    path: Path, text_field: str, label_field: str, dec: TextDecoding | None = None
) -> tuple[list[str], list[str]]:
    """(texts, labels) from any supported labelled source; errors name the fix."""
    require_path(path)
    if path.is_dir():
        texts, labels = read_label_folders(path, dec)
        if not texts:
            raise DataLoadError(
                f"data folder {path} has no samples; put .txt files in one subfolder per label"
            )
        return texts, labels
    if path.stat().st_size == 0:
        raise DataLoadError(f"data file {path} is empty")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        texts, labels = read_csv(path, text_field, label_field, dec)
    elif suffix in (".jsonl", ".json"):
        texts, labels = read_jsonl(path, text_field, label_field, dec)
    else:
        raise DataLoadError(
            f"cannot read labelled data from {path.name}; use .csv, .jsonl or a folder "
            "with one subfolder of .txt files per label"
        )
    if not texts:
        raise DataLoadError(f"data file {path} has no samples (no rows with both text and label)")
    return texts, labels
