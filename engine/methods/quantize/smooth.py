"""Activation smoothing (SmoothQuant's per-channel migration) on the fp32 ONNX graph, before
int8: the int8 steps' `smooth_alpha` option. onnxruntime's own SmoothQuant needs
neural-compressor, which the workbench does not install; this is a few lines of onnx.

Why: MiniLM's LayerNorm outputs carry a few channels up to ~30 while the rest sit near 1
(std 0.6-0.75); int8 activations take one range per tensor, so those channels cost the
others their resolution (weights alone in per-channel int8 keep cosine 0.9994; with
activations it falls to 0.992). Dividing each channel of X by s and multiplying row j of
every weight that reads X by s leaves the fp32 model unchanged: X W = (X / s)(s W).

Smoothed: inputs made by a LayerNorm (LayerNormalization, SkipLayerNormalization,
EmbedLayerNormalization) or a GELU, i.e. the query/key/value (or fused Attention) and both
FFN projections; the attention output projection (input: the attention context, no
outliers) is left alone. The LayerNorm's other readers (the residual) keep the unscaled
tensor because the division is a new Mul in front of the projections only; those Mul
(and Cast) nodes are kept out of quantization (a quantized Mul would take the outlier
range again).
Scales are never below 1 (min_scale): a channel is only ever shrunk. With SmoothQuant's
unbounded s, a quiet channel reading large weights is amplified and becomes the tensor's
new maximum; on the GELU outputs that made MiniLM worse (cosine 0.987-0.77) instead of better.
Measured on MiniLM, per-channel qint8 weights, 48 BBC sentences: no smoothing 0.9923;
alpha 0.65 / 0.7 / 0.75 / 0.8 / 0.9 -> 0.9962 / 0.9969 / 0.9966 / 0.9965 / 0.9960.

Node names are not changed (only inputs are rewired), so exclude_nodes, per-node error and
the exclusion search see the same nodes as without smoothing; per-node error compares with
the smoothed fp32 graph, which computes the same function as the export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

NORMS = ("LayerNormalization", "SkipLayerNormalization", "EmbedLayerNormalization")
GELUS = ("Mul", "Gelu", "BiasGelu", "FastGelu")  # the TorchScript export's GELU ends in a Mul
WEIGHTED = ("MatMul", "Attention")  # input 0 activations, input 1 a [in, out] weight
SMOOTH_SAMPLES = 64  # training samples int8_dynamic measures channel maxima on
MAX_SCALE = 1e2  # a channel is shrunk at most 100x


@dataclass
class Smoothed:
    """The smoothed graph and what was done, for the artifact's summary."""

    path: Path
    tensors: list[str]  # activations divided by their per-channel scales
    nodes: list[str]  # the inserted Mul/Cast nodes and the smoothed tensors' producers,
    # never quantized
    record: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _targets(graph: Any, producers: Sequence[str]) -> dict[str, list]:
    """{tensor made by one of `producers`: [MatMul/Attention nodes reading it with a
    constant weight]}."""
    inits = {i.name for i in graph.initializer}
    made_by = {out: n.op_type for n in graph.node for out in n.output}
    groups: dict[str, list] = {}
    for node in graph.node:
        x = node.input[0] if node.input else ""
        if (node.op_type in WEIGHTED and len(node.input) > 1 and node.input[1] in inits
                and made_by.get(x) in producers):  # fmt: skip
            groups.setdefault(x, []).append(node)
    return groups


def channel_max(model: Any, tensors: Sequence[str], feeds: Sequence[dict]) -> dict[str, np.ndarray]:
    """max |x| per channel (last axis) of each tensor over the feeds; padding rows (where
    the feed's attention_mask is 0) are not real activations and are left out."""
    from engine.methods.quantize import tensor_taps as taps

    sess = taps.session(taps.with_outputs(model, tensors))
    found = {t: np.zeros(1, np.float32) for t in tensors}
    for feed, outs in zip(feeds, taps.run(sess, list(tensors), feeds), strict=True):
        mask = feed.get("attention_mask")
        for t, x in outs.items():
            use_mask = mask is not None and x.shape[:-1] == mask.shape
            rows = x[mask.astype(bool)] if use_mask else x.reshape(-1, x.shape[-1])
            if rows.size:
                found[t] = np.maximum(found[t], np.abs(rows).max(0))
    return found


def _scales(amax: np.ndarray, weights: list[np.ndarray], alpha: float,
            min_scale: float) -> np.ndarray:  # fmt: skip
    """s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), W_j = row j of all weights reading X,
    clipped to [min_scale, MAX_SCALE] (a dead channel gets no 1e5; min_scale=1 only ever
    shrinks a channel, so none can grow into the tensor's new maximum). 1/s is stored in
    float16 (28 kB less on MiniLM: what keeps its int8 file under 23 MB) and s is taken back
    from it, so X W = (X / s)(s W) stays exact."""
    wmax = np.max([np.abs(w).max(1) for w in weights], axis=0)
    s = np.maximum(amax, 1e-5) ** alpha / np.maximum(wmax, 1e-5) ** (1 - alpha)
    return (1.0 / np.clip(s, min_scale, MAX_SCALE)).astype(np.float16)


def smooth_model(
    model: Any, feeds: Sequence[dict], alpha: float = 0.7,
    producers: Sequence[str] = NORMS + GELUS, min_scale: float = 1.0,
) -> list[str]:  # fmt: skip
    """Smooth the LayerNorm/GELU-fed projections of `model` in place; returns the tensors
    smoothed (each gets a Mul named `<tensor>_smooth` and a Cast `<tensor>_smooth_cast`)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    groups = _targets(graph, producers)
    if not groups:
        return []
    amax = channel_max(model, sorted(groups), feeds)
    for x, nodes in groups.items():
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        inv16 = _scales(amax[x], weights, alpha, min_scale)
        s = (1.0 / inv16.astype(np.float32)).astype(np.float32)
        for n, w in zip(nodes, weights, strict=True):
            inits[n.input[1]].CopyFrom(numpy_helper.from_array(w * s[:, None], n.input[1]))
        scaled, inv = f"{x}_smoothed", f"{x}_smooth_inv"
        graph.initializer.append(numpy_helper.from_array(inv16, f"{inv}16"))
        # onnxruntime folds the Cast of a constant when the session loads
        cast = onnx.helper.make_node("Cast", [f"{inv}16"], [inv], to=onnx.TensorProto.FLOAT,
                                     name=f"{x}_smooth_cast")  # fmt: skip
        mul = onnx.helper.make_node("Mul", [x, inv], [scaled], name=f"{x}_smooth")
        first = min(list(graph.node).index(n) for n in nodes)
        graph.node.insert(first, mul)
        graph.node.insert(first, cast)
        for n in nodes:
            n.input[0] = scaled
    return sorted(groups)


def smooth_activations(
    src: str | Path, dst: str | Path, feeds: Sequence[dict], alpha: float = 0.7,
    producers: Sequence[str] = NORMS + GELUS, min_scale: float = 1.0,
) -> list[str]:  # fmt: skip
    """Write `src` with its LayerNorm/GELU-fed projections smoothed to `dst` (external data
    kept external); returns the tensors smoothed."""
    from engine.methods.quantize import tensor_taps as taps
    from engine.methods.quantize.artifact_files import has_external_data, save_model

    model = taps.load(src)
    tensors = smooth_model(model, feeds, alpha, producers, min_scale)
    save_model(model, Path(dst), has_external_data(Path(src)))
    return tensors


def _producers(path: Path, tensors: Sequence[str]) -> list[str]:
    """The LayerNorm/GELU nodes whose outputs were smoothed: static QDQ quantizes a
    LayerNormalization's output, and the Mul after it would then read the rounded tensor,
    outlier range and all; kept in float, the projection's input is quantized after the
    division, as intended."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    wanted = set(tensors)
    # EmbedLayerNormalization is left alone: its int8 form only stores the embedding tables
    # in int8 (its output stays float), and those tables are most of a BERT's size
    return sorted(n.name for n in graph.node if n.name and wanted & set(n.output)
                  and n.op_type != "EmbedLayerNormalization")  # fmt: skip


def smooth_prepared(
    alpha: float, actx: Any, src: Path, work: Path, count: int, seed: int
) -> Smoothed:
    """Smooth the prepared graph `src` on `count` training samples drawn with `seed` (the
    recipe's train split, never val; the example inputs when there is no data)."""
    from engine.methods.quantize.calibration import sample_feeds

    has_data = actx.data is not None and len(actx.data.train) > 0
    from engine.methods.quantize.int8_run import field_error

    feeds = sample_feeds(actx.data, actx.example_feeds, src, count, seed)
    notes = []
    if not feeds:
        raise field_error(actx, "smooth_alpha", "smoothing measures activations and this "
                          "job has no data and no example inputs; add a data section, or "
                          "clear smooth_alpha")  # fmt: skip
    if not has_data:
        notes.append("smoothing scales were measured on the one example batch (the recipe "
                     "has no data); add a data section for scales from training samples")  # fmt: skip
    dst = work / "smoothed.onnx"
    tensors = smooth_activations(src, dst, feeds, alpha)
    if not tensors:
        notes.append("smooth_alpha: no LayerNorm- or GELU-fed MatMul found; nothing smoothed")
    nodes = [name for t in tensors for name in (f"{t}_smooth", f"{t}_smooth_cast")]
    nodes += _producers(dst, tensors) if tensors else []
    samples = sum(int(next(iter(f.values())).shape[0]) for f in feeds)
    record = {"alpha": alpha, "tensors": len(tensors), "samples": samples,
              "split": "train" if has_data else "example inputs", "seed": seed}  # fmt: skip
    return Smoothed(dst if tensors else src, tensors, nodes, record, notes)
