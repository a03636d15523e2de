"""Write each part of the Profile view as PNG (what is on screen) and CSV (its numbers)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def export_part(part: Any, folder: Path) -> list[Path]:
    """`part`'s <stem>.png (its widget as drawn) and <stem>.csv; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    png, table = folder / f"{part.stem}.png", folder / f"{part.stem}.csv"
    if not part.grab().save(str(png)):
        raise OSError(f"could not write {png}")
    header, rows = part.csv_table()
    write_csv(table, header, rows)
    return [png, table]
