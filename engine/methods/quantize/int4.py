"""int4 weight-only quantization of the exported file: every MatMul with a constant weight
becomes an onnxruntime MatMulNBits node holding 4-bit weight blocks with their scales
(onnxruntime.quantization.matmul_nbits_quantizer; RTN, HQQ or GPTQ). Activations stay in
float, so nothing needs calibrating except for GPTQ. This is the route for GPT-style LMs on
CPU, where the weights are most of the bytes and of the memory traffic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from engine.config_fields import ConfigError, FieldError
from engine.methods.base import ArtifactContext, ArtifactResult
from engine.methods.quantize.artifact_files import (
    has_external_data,
    keep_root_logging,
    quiet_quantizer,
    save_model,
    unique_path,
)
from engine.methods.quantize.calibration import (
    calibration_batches,
    draw_indices,
    graph_input_types,
)
from engine.methods.quantize.int4_config import (
    ALGORITHM_LABELS,
    Int4WeightOnlyConfig,
    describe_int4,
)
from engine.methods.quantize.node_patterns import layer_problems, node_layer, resolve_exclusions
from engine.methods.quantize.onnx_nodes import load_graph, weight_nodes
from engine.registry import register_method

if TYPE_CHECKING:  # onnx is slow to import, and registry discovery imports this module
    import onnx

def _linear_layers(module: nn.Module) -> list[str]:
    # transformers' Conv1D (GPT-2) is a Linear with its weight transposed; a TorchScript
    # submodule is a RecursiveScriptModule that keeps its class name in original_name
    kinds = ("Linear", "Conv1D")
    return [
        n for n, m in module.named_modules()
        if isinstance(m, nn.Linear) or getattr(m, "original_name", type(m).__name__) in kinds
    ]  # fmt: skip


def check_int4(cfg: Int4WeightOnlyConfig, module: nn.Module) -> list[str]:
    """Problems visible on the PyTorch model, before anything runs."""
    if not _linear_layers(module):
        kinds = sorted({type(m).__name__ for m in module.modules() if not list(m.children())})
        return [
            f"int4 weight-only stores the weights of Linear layers (ONNX MatMul) in 4 bits, and "
            f"this model has none (its layers: {', '.join(kinds[:5]) or 'none'}); use fp16, or "
            f"int8 quantization, which also covers convolutions"
        ]
    return layer_problems(cfg.exclude_nodes, module)


def _refuse(actx: ArtifactContext, field: str, message: str) -> ConfigError:
    return ConfigError([FieldError(f"methods[{actx.step - 1}].{field}", message)])


def _file_targets(
    cfg: Int4WeightOnlyConfig, graph: onnx.ModelProto, actx: ArtifactContext
) -> tuple[list[onnx.NodeProto], list[onnx.NodeProto]]:
    """(nodes to quantize, nodes kept in fp32); a clear error when nothing would change."""
    candidates = weight_nodes(graph, cfg.op_types)
    if not any(n.op_type == "MatMul" for n in candidates):
        ops = sorted({n.op_type for n in graph.graph.node})
        raise _refuse(actx, "type", (
            f"the exported file has no MatMul with a constant weight for int4 to store (its ops: "
            f"{', '.join(ops[:8])}{', ...' if len(ops) > 8 else ''}); use fp16 or int8 instead"
        ))  # fmt: skip
    field = f"methods[{actx.step - 1}].exclude_nodes"
    excluded = set(resolve_exclusions(graph.graph, tuple(cfg.exclude_nodes), field))
    kept = [n for n in candidates if n.name in excluded]
    todo = [n for n in candidates if n.name not in excluded]
    if not todo:
        raise _refuse(actx, "exclude_nodes", f"keeps all {len(candidates)} quantizable layers "
                      "in fp32, so nothing would be quantized; narrow the patterns")
    return todo, kept


def _gptq_feeds(cfg: Int4WeightOnlyConfig, actx: ArtifactContext) -> list[dict[str, np.ndarray]]:
    """`calibration_samples` seeded samples of the TRAINING split (never validation), in
    batches of 8, as the graph's named inputs."""
    if actx.data is None or len(actx.data.train) == 0:
        raise _refuse(actx, "algorithm", "gptq measures layer inputs on training samples, and "
                      "the recipe has no data; set data.source, or use rtn or hqq (no data)")
    train = actx.data.train
    indices = draw_indices(len(train), cfg.calibration_samples, actx.seed)
    return calibration_batches(train, indices, graph_input_types(actx.onnx_path))


class _Batches:
    """The calibration reader GPTQ iterates (onnxruntime deep-copies it before use)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.feeds = feeds

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self.feeds)


def _algo_config(cfg: Int4WeightOnlyConfig, mnq: Any, feeds: list | None) -> Any:
    ops = tuple(cfg.op_types)
    if cfg.algorithm == "hqq":
        return mnq.HQQWeightOnlyQuantConfig(block_size=cfg.block_size, op_types_to_quantize=ops)
    if cfg.algorithm == "gptq":
        return mnq.GPTQWeightOnlyQuantConfig(
            calibration_data_reader=_Batches(feeds or []), percdamp=cfg.damping,
            block_size=cfg.block_size, actorder=cfg.act_order, op_types_to_quantize=ops,
        )  # fmt: skip
    # RTN: onnxruntime's own blockwise quantizer (C++), which also covers Gather
    return mnq.DefaultWeightOnlyQuantConfig(
        block_size=cfg.block_size, is_symmetric=cfg.symmetric,
        accuracy_level=cfg.accuracy_level or None, op_types_to_quantize=ops,
    )  # fmt: skip


@functools.cache
def _quantizer_class() -> type:
    with keep_root_logging():  # the module runs logging.basicConfig(INFO) when imported
        from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    class Quantizer(mnq.MatMulNBitsQuantizer):
        """GPTQ ignores nodes_to_exclude (only RTN reads it); this marks them fp32 for both."""

        def _generate_q4_node_config(self) -> dict[str, Any]:
            config = super()._generate_q4_node_config()
            config.update({name: "fp32" for name in self.nodes_to_exclude})
            return config

    Quantizer.mnq = mnq
    return Quantizer


def _quantize(cfg: Int4WeightOnlyConfig, actx: ArtifactContext, kept: list[str],
              feeds: list | None) -> onnx.ModelProto:  # fmt: skip
    cls = _quantizer_class()
    quantizer = cls(
        str(actx.onnx_path), block_size=cfg.block_size, is_symmetric=cfg.symmetric,
        accuracy_level=cfg.accuracy_level or None, nodes_to_exclude=kept,
        op_types_to_quantize=tuple(cfg.op_types), algo_config=_algo_config(cfg, cls.mnq, feeds),
    )  # fmt: skip
    with quiet_quantizer(actx.log, "int4: "):
        quantizer.process()
    model = quantizer.model.model
    # the GPTQ path writes MatMulNBits without declaring its domain: onnxruntime runs the
    # file anyway, but onnx.checker (and other tools) refuse it
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.add(domain="com.microsoft", version=1)
    return model


def _notes(cfg: Int4WeightOnlyConfig, graph: onnx.ModelProto, out: onnx.ModelProto) -> list[str]:
    notes = [
        "MatMulNBits is an onnxruntime operator (com.microsoft): this file runs in onnxruntime "
        "(CPU, CUDA, DirectML, WebGPU), not in other ONNX runtimes."
    ]
    if cfg.algorithm == "gptq":
        notes.append("onnxruntime rounds GPTQ's weights a second time onto its own grid, worst "
                     "for symmetric weights (built-in GPT perplexity: fp32 6.64, RTN 6.66, GPTQ "
                     "symmetric 6.85, asymmetric 6.68); compare it with rtn on this model.")
    if cfg.algorithm == "hqq":
        notes.append("HQQ stores float zero points; onnxruntime's CPU kernel runs those slower "
                     "than RTN or GPTQ files (1.6x on the built-in GPT).")
    gemms = sum(n.op_type == "Gemm" for n in graph.graph.node)
    if gemms:
        notes.append(f"{gemms} Gemm node(s) (Linear layers on 2-D inputs, such as a classifier "
                     "head) stay fp32: weight-only int4 covers MatMul only.")
    before = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
    after = next(o.version for o in out.opset_import if o.domain in ("", "ai.onnx"))
    if after != before:
        notes.append(f"4-bit embeddings need opset 21: the file moved from opset {before} to "
                     f"{after}.")
    return notes


@register_method(
    "int4_weight_only",
    "quantize",
    "int4 weight-only (MatMul, for LMs on CPU)",
    Int4WeightOnlyConfig,
    help="Store the weights of every Linear layer (ONNX MatMul) of the exported file in 4 bits, "
    "in blocks that share a scale (onnxruntime MatMulNBits); activations stay in float. About "
    "a sixth of the fp32 size on the Linear weights, and faster token generation for GPT-style "
    "LMs on CPU, where reading the weights is the bottleneck. RTN and HQQ need no data; GPTQ "
    "uses training samples to correct the rounding and is usually closest to fp32.",
    check=check_int4,
    data_problems=lambda cfg, has_data: [] if has_data or cfg.algorithm != "gptq" else [
        ("algorithm", "gptq measures layer inputs on training samples and this recipe has no "
         "data; add a data section, or use algorithm: rtn")],
    rank=40,
    effect="quantized",
    stage="artifact",
    describe=describe_int4,
)
def quantize_int4(cfg: Int4WeightOnlyConfig, actx: ArtifactContext) -> ArtifactResult:
    """Write `<out_dir>/model.int4.onnx` from the fp32 file (which is left untouched)."""
    graph = load_graph(actx.onnx_path)
    todo, kept = _file_targets(cfg, graph, actx)
    feeds = _gptq_feeds(cfg, actx) if cfg.algorithm == "gptq" else None
    label = describe_int4(cfg)
    actx.log(f"{label}: {len(todo)} weight(s) to 4 bits, {len(kept)} kept fp32")
    actx.progress(0.05, f"int4: quantizing {len(todo)} weights ({ALGORITHM_LABELS[cfg.algorithm]})")
    actx.checkpoint()
    model = _quantize(cfg, actx, [n.name for n in kept], feeds)
    actx.checkpoint()
    path = unique_path(Path(actx.out_dir), "model.int4")
    save_model(model, path, external=has_external_data(Path(actx.onnx_path)))
    actx.progress(1.0, f"int4: wrote {path.name}")
    summary = {
        "algorithm": cfg.algorithm,
        "block_size": cfg.block_size,
        "symmetric": cfg.symmetric if cfg.algorithm != "hqq" else False,
        "accuracy_level": cfg.accuracy_level,
        "op_types": list(cfg.op_types),
        "quantized_nodes": len(todo),
        "kept_fp32": [node_layer(n) or n.name for n in kept],
        "calibration_samples": sum(len(next(iter(f.values()))) for f in feeds or []),
    }
    return ArtifactResult("onnx-int4", path, summary, _notes(cfg, graph, model))
