"""Graph optimization before quantization: shape inference, then the transformer fusions.

Quantizing the file as exported leaves many small ops around each MatMul; onnxruntime's
transformer optimizer fuses attention, LayerNorm and GELU first, which is usually what
makes int8 faster on CPU. Every step falls back with a logged reason when it fails on a
graph: an unfused file still quantizes correctly, it is only slower.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnx is slow to import and registry discovery imports this module
    import onnx


def _reason(exc: BaseException) -> str:
    # engine.export's package import loads onnx (seconds); registry discovery imports this
    from engine.export.errors import one_line_reason

    return one_line_reason(exc)


TRANSFORMER_TASKS = ("causal-lm",)  # a classifier may be any network: the graph decides


def _no_log(message: str) -> None:
    pass


def looks_like_transformer(graph: onnx.GraphProto) -> bool:
    """Attention (Softmax next to MatMuls) plus a normalization, as the exporters write them."""
    ops = Counter(n.op_type for n in graph.node)
    norm = ops["LayerNormalization"] or ops["SimplifiedLayerNormalization"] or ops["ReduceMean"]
    return bool(ops["Softmax"] and ops["MatMul"] >= 2 and norm)


def _scalar(graph: onnx.GraphProto, name: str) -> float | None:
    """The value of a one-element constant tensor (initializer or Constant node), else None."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            arr = numpy_helper.to_array(init)
            return float(arr.reshape(-1)[0]) if arr.size == 1 else None
    for node in graph.node:
        if node.op_type == "Constant" and name in node.output and node.attribute:
            attr = node.attribute[0]
            if attr.HasField("t"):
                arr = numpy_helper.to_array(attr.t)
                return float(arr.reshape(-1)[0]) if arr.size == 1 else None
            if attr.type == attr.FLOAT:
                return float(attr.f)
    return None


def _scale_of(graph: onnx.GraphProto, node: onnx.NodeProto) -> float | None:
    """The factor a Mul/Div by a scalar constant applies (x / 4 -> 0.25), else None."""
    if node.op_type not in ("Div", "Mul"):
        return None
    for arg in node.input:
        c = _scalar(graph, arg)
        if c and c > 0:
            return 1.0 / c if node.op_type == "Div" else c
    return None


def _walk_up(producer: dict, name: str, through: tuple[str, ...], hops: int) -> list:
    """Nodes above tensor `name`, following only `through` op types, up to `hops` deep."""
    found, frontier = [], [name]
    for _ in range(hops):
        nxt = []
        for t in frontier:
            up = producer.get(t)
            if up is not None:
                found.append(up)
                if up.op_type in through:
                    nxt += list(up.input)
        frontier = nxt
    return found


def _head_size(graph: onnx.GraphProto) -> int:
    """Per-head width from the 1/sqrt(d) score scale near a Softmax; 0 if not found.

    Eager attention scales the scores (Div by sqrt(d) or Mul by 1/sqrt(d)); exported SDPA
    scales q and k by d**-0.25 each, above the QK MatMul.
    """
    producer = {out: n for n in graph.node for out in n.output}
    for soft in (n for n in graph.node if n.op_type == "Softmax"):
        above = _walk_up(producer, soft.input[0], ("Add", "Where", "Cast", "Div", "Mul"), 5)
        scales = [c for n in above if (c := _scale_of(graph, n))]
        qk = next((n for n in above if n.op_type == "MatMul"), None)
        if scales:
            d = 1.0 / (scales[0] ** 2)
        elif qk is not None:
            sides = [[c for n in _walk_up(producer, i, ("Transpose", "Reshape"), 3)
                      if (c := _scale_of(graph, n))] for i in qk.input]  # fmt: skip
            if not all(sides) or abs(sides[0][0] - sides[1][0]) > 1e-6:
                continue
            d = 1.0 / (sides[0][0] ** 4)
        else:
            continue
        if abs(d - round(d)) < 1e-3 and round(d) > 1:
            return int(round(d))
    return 0


def detect_heads(graph: onnx.GraphProto) -> tuple[int, int]:
    """(num_heads, hidden_size) read from the graph; (0, 0) when it does not say."""
    inits = {i.name: i for i in graph.initializer}
    widths = Counter(
        int(math.prod(inits[n.input[1]].dims))
        for n in graph.node
        if n.op_type == "LayerNormalization" and len(n.input) > 1 and n.input[1] in inits
    )
    hidden = widths.most_common(1)[0][0] if widths else 0
    head = _head_size(graph)
    if hidden and head and hidden % head == 0:
        return hidden // head, hidden
    return 0, hidden


def wants_fusions(graph: onnx.GraphProto, task: str, mode: str) -> bool:
    """Whether the transformer optimizer runs: always for mode transformer; for auto, when
    the graph has attention and normalization, or the model is a causal LM."""
    if mode == "transformer":
        return True
    return mode == "auto" and (looks_like_transformer(graph) or task in TRANSFORMER_TASKS)


def _has_external_data(graph: onnx.GraphProto) -> bool:
    from onnx.external_data_helper import uses_external_data

    return any(uses_external_data(t) for t in graph.initializer)


def _save_kwargs(dst: Path, external: bool) -> dict[str, object]:
    if not external:
        return {}
    return {"save_as_external_data": True, "all_tensors_to_one_file": True,
            "external_data_location": f"{dst.name}.data"}  # fmt: skip


def shape_infer(src: Path, dst: Path, external: bool, log: Callable[[str], None]) -> bool:
    """onnxruntime's quant_pre_process (symbolic shapes, basic optimization); False if it
    failed on this graph even without symbolic shape inference (dst is then not written)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    attempts = ({"auto_merge": True}, {"skip_symbolic_shape": True})
    for i, extra in enumerate(attempts):
        before = set(os.listdir("."))
        try:
            quant_pre_process(str(src), str(dst), **extra, **_save_kwargs(dst, external))
            return True
        except Exception as exc:
            what = "symbolic shape inference" if i == 0 else "shape inference"
            log(f"graph optimization: {what} failed on this graph ({_reason(exc)})")
        finally:
            _remove_debug_dump(before)
    return False


_DUMP_DATA = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.data$")


def _remove_debug_dump(before: set[str]) -> None:
    """onnxruntime's symbolic shape inference, when it gives up, saves its partial model as
    sym_shape_infer_temp.onnx (+ a uuid-named .data file) in the current folder: the user's
    folder, not ours. Remove what that call left there."""
    for name in set(os.listdir(".")) - before:
        if name == "sym_shape_infer_temp.onnx" or _DUMP_DATA.match(name):
            with contextlib.suppress(OSError):
                os.remove(name)


def fuse_transformer(
    src: Path, dst: Path, model_type: str, heads: tuple[int, int], external: bool,
    log: Callable[[str], None],
) -> dict[str, int] | None:  # fmt: skip
    """The transformer fusions; nonzero fused op counts, or None when the optimizer failed."""
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        model = optimize_model(
            str(src), model_type=model_type, num_heads=heads[0], hidden_size=heads[1]
        )
        odd = _nonstandard_ops(model.model)
        if odd:  # e.g. Llama's RMSNorm: an onnxruntime-only op in the ONNX domain
            log(f"graph optimization: the fusion wrote {', '.join(odd)}, an onnxruntime-only "
                "operator outside the ONNX standard (the checker rejects such a file); "
                "fusing again without the normalization fusions")  # fmt: skip
            model = optimize_model(str(src), model_type=model_type, num_heads=heads[0],
                                   hidden_size=heads[1], optimization_options=_no_norm(model_type))  # fmt: skip
        counts = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
        model.save_model_to_file(str(dst), use_external_data_format=external)
    except Exception as exc:
        log(f"graph optimization: the {model_type} transformer optimizer failed on this graph "
            f"({_reason(exc)}); quantizing without fusions")  # fmt: skip
        return None
    return counts


def _nonstandard_ops(model: onnx.ModelProto) -> list[str]:
    """Ops in the default (ONNX) domain that ONNX does not define."""
    import onnx

    ops = {n.op_type for n in model.graph.node if n.domain in ("", "ai.onnx")}
    return sorted(op for op in ops if not onnx.defs.has(op))


def _no_norm(model_type: str) -> object:
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions(model_type)
    options.enable_layer_norm = options.enable_skip_layer_norm = False
    return options


def optimize_for_quantization(
    src: str | Path,
    dst: str | Path,
    task: str,
    mode: str,
    heads: tuple[int, int] = (0, 0),
    log: Callable[[str], None] = _no_log,
) -> tuple[Path, dict[str, int]]:
    """(file to quantize, fused op counts): `dst`, or `src` itself when nothing applied.

    mode: none = as exported; basic = shape inference only; transformer = fusions too;
    auto = fusions when the graph or the task says transformer. Whatever the mode, shared
    1-D initializers are unshared (shared_init.py says why). heads = (num_heads,
    hidden_size) for attention fusion; 0 = read from the graph (the optimizer's own
    detection fails on many exports).
    """
    import onnx

    from engine.methods.quantize.shared_init import unshare_file

    src, dst = Path(src), Path(dst)
    external = _has_external_data(onnx.load(str(src), load_external_data=False).graph)
    path, fused = _optimize(src, dst, task, mode, heads, log) if mode != "none" else (src, {})
    return unshare_file(path, dst, _save_kwargs(dst, external), log), fused


def _optimize(
    src: Path, dst: Path, task: str, mode: str, heads: tuple[int, int],
    log: Callable[[str], None],
) -> tuple[Path, dict[str, int]]:  # fmt: skip
    import onnx

    graph = onnx.load(str(src), load_external_data=False).graph
    external = _has_external_data(graph)
    fused: dict[str, int] = {}
    current = src
    if wants_fusions(graph, task, mode):
        model_type = "gpt2" if task == "causal-lm" else "bert"
        found = detect_heads(graph)
        heads = (heads[0] or found[0], heads[1] or found[1])
        staged = dst.with_name(f"{dst.stem}.fused.onnx")
        counts = fuse_transformer(src, staged, model_type, heads, external, log)
        if counts is not None:
            fused, current = counts, staged
            log(f"graph optimization: {model_type} fusions "
                f"{', '.join(f'{k} x{v}' for k, v in counts.items()) or 'none applied'}")  # fmt: skip
    if shape_infer(current, dst, external, log):
        _remove(current, src)
        return dst, fused
    if current != src:  # fused but not shape-inferred: still the better file to quantize
        onnx.save(onnx.load(str(current)), str(dst), **_save_kwargs(dst, external))
        _remove(current, src)
        return dst, fused
    return src, fused


def _remove(path: Path, keep: Path) -> None:
    """Delete an intermediate file (and its external data), never the source."""
    if path == keep:
        return
    for p in (path, path.with_name(f"{path.name}.data")):
        p.unlink(missing_ok=True)
