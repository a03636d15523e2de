"""Every variant of a workspace as CSV: one row per variant, raw numbers (not display text).

The GUI's "Export CSV…" and `workbench-cli export-csv` both write this table, so a
spreadsheet gets the same columns from either. Metric deltas are against the parent
the Compare page uses (the dense fine-tuned control when there is one).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from engine.atomic_io import atomic_write_text
from engine.collapse import collapse_check
from engine.fair_parent import comparison_parents, fine_tuned
from engine.metric_text import HEADLINE, compare_metric
from engine.store import Variant

COLUMNS = (
    "id", "name", "parent_id", "parent_name", "status", "method", "params", "nonzero_params",
    "sparsity", "size_bytes", "onnx_bytes", "zip_bytes", "latency_ms_p50", *HEADLINE,
    "compared_with", "metric_delta", "collapsed", "fine_tuned", "train_steps", "created", "warnings", "missing",
)  # fmt: skip


def _section(card: dict[str, Any], name: str) -> dict[str, Any]:
    value = card.get(name)
    return value if isinstance(value, dict) else {}


def variant_csv_row(
    v: Variant, names: dict[str, str], fair: tuple[Variant | None, str]
) -> dict[str, Any]:
    """The CSV columns of one variant ('' where a value is unknown); `fair`: its comparison parent."""
    c = v.card or {}
    model, onnx, metrics = _section(c, "model"), _section(c, "onnx"), _section(c, "metrics")
    compared, _kind = fair
    delta = compare_metric(c, compared.card if compared else None)
    collapse = collapse_check(c, compared.card if compared else None)
    row = {
        "id": v.id, "name": v.name, "parent_id": v.parent or "", "parent_name": names.get(v.parent or "", ""),
        "status": v.status, "method": c.get("method", ""), "params": model.get("params"),
        "nonzero_params": model.get("nonzero_params"), "sparsity": _section(c, "sparsity").get("overall"),
        "size_bytes": model.get("size_bytes"), "onnx_bytes": onnx.get("size_bytes"),
        "zip_bytes": onnx.get("zip_bytes"), "latency_ms_p50": onnx.get("latency_ms_p50"),
        **{name: metrics.get(name) for name in HEADLINE},
        "compared_with": compared.name if compared else "",
        "metric_delta": delta["delta"] if delta else None,
        "collapsed": collapse["collapsed"] if collapse else None,
        "fine_tuned": fine_tuned(c), "train_steps": _section(c, "train").get("steps"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.created)),
        "warnings": " | ".join(str(w) for w in c.get("warnings") or []), "missing": v.missing or "",
    }  # fmt: skip
    return {k: "" if row[k] is None else row[k] for k in COLUMNS}


def variants_csv(variants: list[Variant]) -> str:
    """The whole table as CSV text (header + one row per variant, oldest first)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    names = {v.id: v.name for v in variants}
    fair = comparison_parents(variants)
    for v in variants:
        writer.writerow(variant_csv_row(v, names, fair[v.id]))
    return out.getvalue()


def write_variants_csv(variants: list[Variant], path: str | Path) -> Path:
    """Write the table to `path` atomically; refuses a folder by name."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a folder; give a file name such as {p / 'variants.csv'}")
    if not p.parent.is_dir():
        raise ValueError(f"cannot write {p}: the folder {p.parent} does not exist")
    atomic_write_text(p, variants_csv(variants))
    return p
