"""Read a run's metrics.jsonl (written by Job while it runs) back into curves.

A run killed mid-write leaves a truncated last line, and a file is only data: every
line is checked, bad ones are skipped and counted, and nothing here raises for
what the file holds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METRICS_FILE = "metrics.jsonl"
MAX_LINES = 500_000  # a run logs far fewer; a huge file is not read to the end


@dataclass
class MetricsLog:
    """Curves of one run: metric name -> (steps, values), sorted by step."""

    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    skipped: int = 0  # lines that were not a whole, valid metric record
    error: str = ""  # why the file could not be read at all ("" when it could)

    def note(self) -> str:
        """One line for the user about what was not read ('' when everything was)."""
        if self.error:
            return self.error
        if self.skipped:
            return f"{self.skipped} damaged line(s) skipped (a run cut off mid-write leaves one)"
        return ""


def _metric(line: str) -> tuple[str, float, float] | None:
    """(name, step, value) of a Metric line, None for another event; ValueError when damaged."""
    rec = json.loads(line)  # JSONDecodeError is a ValueError
    if not isinstance(rec, dict) or not isinstance(rec.get("event"), str):
        raise ValueError("not an event record")
    if rec["event"] != "Metric":
        return None  # per-layer stats and the like: not curves
    name, step, value = rec.get("name"), rec.get("step"), rec.get("value")
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ValueError("bad metric name")
    for v in (step, value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError("not a finite number")
    return name, float(step), float(value)


def read_metrics(path: str | Path) -> MetricsLog:
    """The Metric records of a metrics.jsonl; LayerStats lines are not curves and are passed over."""
    out = MetricsLog()
    points: dict[str, list[tuple[float, float]]] = {}
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                if i >= MAX_LINES:
                    out.error = f"{path}: only the first {MAX_LINES} lines were read"
                    break
                if not line.strip():
                    continue
                try:
                    m = _metric(line)
                except (ValueError, RecursionError):  # cut off, or not ours
                    out.skipped += 1
                    continue
                if m is not None:
                    points.setdefault(m[0], []).append((m[1], m[2]))
    except OSError as exc:
        out.error = f"{path}: cannot be read ({exc.strerror or exc})"
        return out
    for name, pts in points.items():
        arr = np.asarray(sorted(pts, key=lambda p: p[0]), dtype=float)
        out.series[name] = (arr[:, 0], arr[:, 1])
    return out
