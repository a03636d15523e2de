"""Reading an int8 file's activation-range record and saying what it shows, in words.

The record is the JSON file the engine writes next to the artifact
(engine/methods/quantize/activation_record.py); the card's artifact summary names it in
"activation_ranges".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def record_path(artifact: dict[str, Any]) -> Path | None:
    """Where an artifact's activation-range record lies, or None when none was recorded."""
    name = (artifact.get("summary") or {}).get("activation_ranges")
    path = artifact.get("path")
    if not name or not path:
        return None
    return Path(str(path)).parent / str(name)


def load_record(artifact: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(record, "") or (None, why there is nothing to show)."""
    path = record_path(artifact)
    if path is None:
        return None, "No activation ranges were recorded for this file (runs before this view, or the recording failed: see the run log)."
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"Activation ranges could not be read from {path.name}: {exc}"
    if not isinstance(record, dict) or not record.get("tensors"):
        return None, f"{path.name} holds no tensors."
    return record, ""


def tensor_label(tensor: dict[str, Any], layers: dict[str, str]) -> str:
    """'<layer of the first node it feeds> · input', falling back to the tensor name."""
    nodes = [str(n) for n in tensor.get("nodes") or []]
    named = [layers.get(n, n) for n in nodes]
    head = named[0] if named else str(tensor.get("tensor"))
    more = f" (+{len(named) - 1} more)" if len(named) > 1 else ""
    return f"{head}{more} · input {tensor.get('tensor')}"


def clipped_range(tensor: dict[str, Any]) -> tuple[float, float] | None:
    """The quantizer's range with the percentile cut applied (still holding 0, as quantizers keep it)."""
    low, high, cut_low, cut_high = (tensor.get(k) for k in ("low", "high", "cut_low", "cut_high"))
    if None in (low, high, cut_low, cut_high):
        return None
    return min(max(low, cut_low), 0.0), max(min(high, cut_high), 0.0)


def clip_line(tensor: dict[str, Any], percentile: float) -> str:
    """One line: how much of the range the values past the cut take, i.e. what clipping buys."""
    clipped = clipped_range(tensor)
    width = float(tensor.get("high") or 0.0) - float(tensor.get("low") or 0.0)
    top = f"{100.0 - percentile:.4g}%"
    if clipped is None or width <= 0:
        return f"No percentile cut recorded for this tensor (top {top} unknown)."
    kept = clipped[1] - clipped[0]
    share = 1.0 - kept / width
    if share < 0.01:
        return (f"The top {top} of |values| take under 1% of the quantizer's range: "
                "clipping them would buy nothing here.")  # fmt: skip
    finer = width / kept if kept > 0 else float("inf")
    return (f"The top {top} of |values| take {share:.0%} of the quantizer's range: clipping "
            f"them (Percentile calibration at {percentile:g}) would make the int8 step "
            f"{finer:.1f}× finer for all the other values.")  # fmt: skip


def range_note(record: dict[str, Any], tensor: dict[str, Any]) -> str:
    """Where the red lines come from: the file's scale and zero point, or each batch's own range."""
    n, samples = record.get("batches"), record.get("samples")
    if tensor.get("dynamic"):
        return (f"Dynamic int8 stores no range: each batch is quantized with its own min/max "
                f"(0 included). Thin red lines: the {n} batch(es) measured ({samples} samples); "
                "thick: the widest.")  # fmt: skip
    scale, zp, qtype = tensor.get("scale"), tensor.get("zero_point"), tensor.get("qtype")
    stored = f"scale {scale:.3g}, zero point {zp}, {qtype}" if scale is not None else "stored"
    if record.get("dynamic"):  # a static range inside a dynamic file: int8 weights gathered
        return f"Red: the range stored in the file ({stored}). Histogram: {samples} samples."
    method = record.get("calibration_method") or "calibration"
    return (f"Red: the range the file uses ({method}; {stored}). "
            f"Histogram: all {samples} calibration samples.")  # fmt: skip
