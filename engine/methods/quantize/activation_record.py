"""Activation ranges of an int8 artifact, recorded at run time for the Export page's view.

For the activation inputs of the quantized MatMul/Gemm/Conv nodes (the worst nodes' first,
at most MAX_TENSORS), a BINS-bin histogram of every value the fp32 graph handed to the
quantizer computes on the samples (static: all calibration samples; dynamic: the samples
per-node error is measured on), with:
- `low`/`high`: the range the quantizer used. Static: decoded from the file's scale and zero
  point (whichever calibrator chose it). Dynamic: none is stored; each batch is quantized
  with its own min/max (extended to include 0), so `batch_ranges` holds the batches' ranges
  and low/high the widest of them.
- `cut_low`/`cut_high`: the cut onnxruntime's Percentile calibrator makes at CUT_PERCENTILE
  (symmetric, its default; fine_histogram.py), i.e. the range if the top 0.01 % of |x| were
  clipped.
The graph runs once over the samples with every picked tensor tapped (as per-node error does).
Written as `<artifact stem>.activations.json` next to the file; the summary names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.methods.quantize import tensor_taps as taps
from engine.methods.quantize.activation_qparams import (
    QuantRange,
    quantized_inputs,
)
from engine.methods.quantize.fine_histogram import FineHistogram

MAX_TENSORS = 64
BINS = 128
CUT_PERCENTILE = 99.99  # "the top 0.01 % of values"
SUFFIX = ".activations.json"
Feeds = Sequence[dict[str, np.ndarray]]


def pick_tensors(inputs: dict[str, list[str]], worst_nodes: Sequence[str]) -> list[str]:
    """The worst nodes' inputs first (the chart's order), then graph order; MAX_TENSORS."""
    feeding = {node: t for t, nodes in inputs.items() for node in reversed(nodes)}
    order = [feeding[n] for n in worst_nodes if n in feeding]
    return list(dict.fromkeys([*order, *inputs]))[:MAX_TENSORS]


def _fill(fp: Any, names: list[str], feeds: Feeds) -> tuple[dict[str, FineHistogram], dict[str, list]]:
    """One pass over the feeds: each tensor's histogram and its (min, max) per batch."""
    sess = taps.session(taps.with_outputs(fp, names))
    hists = {n: FineHistogram() for n in names}
    batches: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for batch in taps.run(sess, names, feeds):
        for n, v in batch.items():
            batches[n].append(hists[n].add(v) or (0.0, 0.0))
    return hists, batches


def _entry(name: str, nodes: list[str], q: QuantRange, batches: list[tuple[float, float]],
           hist: FineHistogram) -> dict[str, Any]:  # fmt: skip
    ranges = [(min(lo, 0.0), max(hi, 0.0)) for lo, hi in batches]  # as DynamicQuantizeLinear
    low, high = (q.low, q.high) if not q.dynamic else (min(r[0] for r in ranges), max(r[1] for r in ranges))
    # the bins span the values and the range, so the lines fall inside the drawn histogram
    span = (min(hist.low, low), max(hist.high, high))
    cut = hist.symmetric_cut(CUT_PERCENTILE)
    return {
        "tensor": name, "nodes": nodes, "dynamic": q.dynamic,
        "edges": [span[0], span[1]], "counts": hist.coarse(BINS, *span).tolist(), "count": hist.total,
        "nonfinite": hist.nonfinite, "data_min": hist.low, "data_max": hist.high,
        "low": low, "high": high, "scale": q.scale, "zero_point": q.zero_point, "qtype": q.qtype,
        "batch_ranges": [list(r) for r in ranges] if q.dynamic else None,
        "cut_low": cut[0], "cut_high": cut[1],
    }  # fmt: skip


def activation_record(fp32_path: Path, quant_path: Path, feeds: Feeds,
                      worst_nodes: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """The histograms and ranges of the quantized activation inputs (see the module doc).

    fp32_path: the float file handed to the quantizer (tensor names must match).
    """
    import onnx

    fp = taps.load(fp32_path)
    taps.check_feeds(fp, feeds)
    found = quantized_inputs(fp, onnx.load(str(quant_path), load_external_data=False))
    ranges = {name: q for name, (q, _) in found.items()}
    inputs = {name: nodes for name, (_, nodes) in found.items()}
    names = pick_tensors(inputs, worst_nodes)
    hists, batches = _fill(fp, names, feeds) if names else ({}, {})
    tensors = [_entry(n, inputs[n], ranges[n], batches[n], hists[n]) for n in names if hists[n].total]
    samples = sum(int(next(iter(f.values())).shape[0]) for f in feeds)
    return {
        "version": 1, "bins": BINS, "cut_percentile": CUT_PERCENTILE,
        "samples": samples, "batches": len(feeds),
        "quantized_inputs": len(inputs), "tensors": tensors,
    }  # fmt: skip


def _reason(exc: BaseException) -> str:
    from engine.export.errors import one_line_reason

    return one_line_reason(exc)


def _samples(cfg: Any, actx: Any, fp32: Path, feeds: Callable[[Path], Feeds]) -> Feeds:
    """Static: the calibration batches quantize_static read (drawn again from the same seed,
    in the same order); dynamic: the samples per-node error is measured on."""
    from engine.methods.quantize.calibration import (
        calibration_batches,
        draw_indices,
        graph_input_types,
    )

    count, seed = getattr(cfg, "calibration_samples", None), getattr(cfg, "calibration_seed", None)
    if count is None or seed is None or actx.data is None:
        return feeds(fp32)
    indices = draw_indices(len(actx.data.train), count, seed)
    return calibration_batches(actx.data.train, indices, graph_input_types(actx.onnx_path))


def record_activation_ranges(
    cfg: Any, summary: dict[str, Any], fp32: Path, artifact: Path, actx: Any,
    feeds: Callable[[Path], Feeds],
) -> None:  # fmt: skip
    """Write the record next to `artifact` and name it in summary["activation_ranges"].

    fp32: the graph handed to the quantizer (prepared, maybe smoothed); `feeds(graph)`: the
    handler's per-node-error samples. A view must not cost the user the artifact: any
    failure is logged and the summary left without it.
    """
    from engine.atomic_io import atomic_write_text, strict_json

    actx.checkpoint()  # a cancel must stop the job, not be logged as a failed recording
    actx.progress(0.9, "activation ranges")
    try:
        samples = _samples(cfg, actx, Path(fp32), feeds)
        if not samples:
            raise ValueError("no data and no example inputs to run the graph on")
        worst = [str(e.get("node")) for e in summary.get("node_errors") or []]
        record = activation_record(Path(fp32), Path(artifact), samples, worst)
        if not record["tensors"]:
            raise ValueError("no quantized MatMul/Gemm/Conv activation input found in the file")
        record["calibration_method"] = getattr(cfg, "calibration_method", None)
        record["dynamic"] = any(t["dynamic"] for t in record["tensors"])
        out = Path(artifact).with_name(Path(artifact).stem + SUFFIX)
        atomic_write_text(out, strict_json(record))  # mkstemp: private, as the run's files
        summary["activation_ranges"] = out.name
    except Exception as exc:
        actx.log(f"activation ranges: not recorded ({_reason(exc)})")
