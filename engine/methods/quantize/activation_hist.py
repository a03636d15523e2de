"""Activation-range view: a histogram of one tensor's calibration values and the cuts on it.

The lines drawn are the ones calibration would use, as quantize_static sets its
calibrators up (onnxruntime 1.32, calibrate.create_calibrator):
- `min`/`max`: the MinMax calibrator's range, the extremes over all calibration batches
  (asymmetric by default; ±max|x| when the range is made symmetric).
- `cut_low`/`cut_high`: the Percentile calibrator's range, computed by onnxruntime's own
  HistogramCollector with its defaults (2048 bins; symmetric by default: ±the value below
  which `percentile` % of |x| lies; asymmetric: each side loses (100 − percentile) / 2 %).
`symmetric=None` keeps each calibrator's default; True or False sets both, as
quantize_static's extra option CalibTensorRangeSymmetric does.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from engine.methods.quantize import tensor_taps as taps
from engine.methods.quantize.node_error import QUANTIZABLE_OPS

PERCENTILE_BINS = 2048  # PercentileCalibrater's default num_bins, which quantize_static keeps


def candidate_tensors(fp32_path: Path) -> list[str]:
    """Activation inputs of MatMul/Gemm/Conv nodes (not weights), in graph order."""
    model = taps.load(fp32_path)
    inits = taps.initializer_names(model)
    out: dict[str, None] = {}
    for node in model.graph.node:
        if node.op_type in QUANTIZABLE_OPS:
            for name in node.input[:2]:
                if name and name not in inits:
                    out.setdefault(name)
    return list(out)


def percentile_range(
    values: np.ndarray, percentile: float, symmetric: bool = True
) -> tuple[float, float]:
    """The (low, high) the Percentile calibrator picks for these values."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    if not 0 < percentile <= 100:
        raise ValueError(f"percentile: must be in (0, 100], got {percentile}")
    collector = HistogramCollector(
        method="percentile",
        symmetric=symmetric,
        num_bins=PERCENTILE_BINS,
        num_quantized_bins=None,
        percentile=percentile,
        scenario="same",
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress lines
        collector.collect({"t": [values]})
        low, high = collector.compute_collection_result()["t"][:2]
    return float(low), float(high)


def activation_histogram(
    fp32_path: Path,
    tensor_name: str,
    feeds: list[dict[str, np.ndarray]],
    bins: int = 64,
    percentile: float | None = None,
    *,
    symmetric: bool | None = None,
) -> dict[str, Any]:
    """{tensor, edges, counts, min, max, cut_low, cut_high} of `tensor_name` over `feeds`."""
    if bins < 1:
        raise ValueError(f"bins: must be 1 or more, got {bins}")
    model = taps.load(fp32_path)
    taps.check_feeds(model, feeds)
    if tensor_name not in taps.produced_names(model):
        hint = ", ".join(candidate_tensors(fp32_path)[:3])
        raise ValueError(
            f"tensor_name: {tensor_name!r} is not a tensor of {Path(fp32_path).name}; "
            f"pick one of candidate_tensors() (e.g. {hint})"
        )
    sess = taps.session(taps.with_outputs(model, [tensor_name]))
    parts = [b[tensor_name].astype(np.float32).ravel() for b in taps.run(sess, [tensor_name], feeds)]
    values = np.concatenate(parts)
    if values.size == 0 or not np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"tensor_name: {tensor_name!r} held no values on these feeds")
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    counts, edges = np.histogram(values, bins=bins, range=(low, high) if high > low else None)
    cut_low = cut_high = None
    if percentile is not None:
        cut_low, cut_high = percentile_range(values, percentile, symmetric is not False)
    if symmetric:  # MinMax's symmetric range
        low, high = -max(abs(low), abs(high)), max(abs(low), abs(high))
    return {
        "tensor": tensor_name,
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "min": low,
        "max": high,
        "cut_low": cut_low,
        "cut_high": cut_high,
    }
