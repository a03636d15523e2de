"""fp16 conversion of the exported file: float32 weights and activations become float16
(onnxconverter-common's float16 converter, in the version onnxruntime ships as
onnxruntime.transformers.float16). Half the bytes; faster only where the hardware computes
in half precision.

onnxruntime's copy is used rather than onnxconverter_common.float16 itself because it keeps
a `Cast(to=float)` inside the graph consistent (a Llama RMSNorm's upcast made the upstream
converter write a file the checker rejects), converts constants with the real float16
range (65504, not 1e4), and shape-infers a file path, which works past protobuf's 2 GiB.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from engine.config_fields import ConfigError, FieldError, option
from engine.methods.base import ArtifactContext, ArtifactResult
from engine.methods.quantize.artifact_files import (
    has_external_data,
    quiet_quantizer,
    save_model,
    unique_path,
)
from engine.methods.quantize.node_patterns import layer_problems, resolve_exclusions
from engine.methods.quantize.onnx_nodes import load_graph
from engine.registry import register_method

if TYPE_CHECKING:  # onnx is slow to import, and registry discovery imports this module
    import onnx

FP16_MIN_POSITIVE = 5.96e-08  # the smallest float16 subnormal
FP16_MAX = 65504.0  # the largest finite float16

CPU_TRUTH = (
    "fp16 halves the file, but on CPU it usually runs slower than fp32: most onnxruntime CPU "
    "kernels have no float16 version, so the runtime casts back to float32 around them. It "
    "pays off on GPUs (CUDA, TensorRT, DirectML) and on NPUs and mobile GPUs (CoreML, NNAPI, "
    "QNN) that compute in half precision natively."
)


@dataclass(frozen=True)
class Fp16Config:
    keep_io_types: bool = option(
        True,
        label="Keep fp32 inputs/outputs",
        help="the file still takes and returns float32 (casts at the edges), so callers need "
        "no change; off: float inputs and outputs become float16 too",
    )
    op_block_list: tuple[str, ...] = option(
        default_factory=tuple,
        label="Op types kept fp32",
        help="ONNX op types left in float32 besides the converter's own list (Range, TopK, "
        "Resize ...), e.g. [LayerNormalization, Softmax] when fp16 overflows in them",
    )
    exclude_nodes: tuple[str, ...] = option(
        default_factory=tuple,
        label="Keep in fp32",
        help="layers left in fp32: layer names (lm_head, *.mlp.*; fnmatch), ONNX node names "
        "(/blocks.0/attn/qkv/MatMul) or 're:' + a regex",
    )
    min_positive_val: float = option(
        FP16_MIN_POSITIVE,
        min=FP16_MIN_POSITIVE,
        max=1.0,
        label="Smallest positive value",
        help="positive constants below this become this value instead of rounding to zero",
        advanced=True,
    )
    max_finite_val: float = option(
        FP16_MAX,
        min=1.0,
        max=FP16_MAX,
        label="Largest finite value",
        help="constants beyond this (e.g. a -3.4e38 attention mask fill) are clamped to it",
        advanced=True,
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        if self.min_positive_val >= self.max_finite_val:
            return [("min_positive_val", f"must be below max_finite_val ({self.max_finite_val:g})")]
        return []


def describe_fp16(cfg: Fp16Config) -> str:
    """The card's label: 'fp16 (fp32 inputs/outputs)'."""
    kept = len(cfg.op_block_list) + len(cfg.exclude_nodes)
    parts = ["fp32 inputs/outputs" if cfg.keep_io_types else "fp16 inputs/outputs"]
    if kept:
        parts.append(f"{kept} op type(s)/pattern(s) kept fp32")
    return f"fp16 ({', '.join(parts)})"


def check_fp16(cfg: Fp16Config, module: nn.Module) -> list[str]:
    """Exclusion patterns that match no layer, before anything runs."""
    return layer_problems(cfg.exclude_nodes, module)


def _refuse(actx: ArtifactContext, field: str, message: str) -> ConfigError:
    return ConfigError([FieldError(f"methods[{actx.step - 1}].{field}", message)])


def _has_float32(graph: onnx.ModelProto) -> bool:
    float32 = 1  # onnx.TensorProto.FLOAT
    tensors = [t.data_type for t in graph.graph.initializer]
    values = [v.type.tensor_type.elem_type for v in (*graph.graph.input, *graph.graph.output)]
    return float32 in tensors or float32 in values


def _drop_initializer_value_info(model: onnx.ModelProto) -> None:
    """The dynamo exporter also declares every initializer's type in value_info; the
    converter turns those to float16 even for a weight it keeps in fp32 (a node kept in fp32),
    and onnx.checker then finds the weight's declared and stored types differ. The stored
    type is the truth, and the declaration is redundant: drop it."""
    graph = model.graph
    stored = {t.name for t in graph.initializer}
    kept = [v for v in graph.value_info if v.name not in stored]
    if len(kept) < len(graph.value_info):
        del graph.value_info[:]
        graph.value_info.extend(kept)


@register_method(
    "fp16",
    "quantize",
    "fp16 (half precision, for GPUs and NPUs)",
    Fp16Config,
    help="Convert the exported file's float32 weights and activations to float16: half the "
    "size. Faster on GPUs (CUDA, TensorRT, DirectML) and NPUs/mobile GPUs; on CPU it usually "
    "runs slower than fp32, because most CPU kernels cast back to float32.",
    check=check_fp16,
    rank=50,
    effect="quantized",
    stage="artifact",
    describe=describe_fp16,
)
def convert_fp16(cfg: Fp16Config, actx: ArtifactContext) -> ArtifactResult:
    """Write `<out_dir>/model.fp16.onnx` from the fp32 file (which is left untouched)."""
    source = Path(actx.onnx_path)
    graph = load_graph(source)
    if not _has_float32(graph):
        raise _refuse(actx, "type", "the exported file has no float32 tensors (it is already "
                      "half precision or integer); fp16 has nothing to convert")
    field = f"methods[{actx.step - 1}].exclude_nodes"
    blocked = resolve_exclusions(graph.graph, tuple(cfg.exclude_nodes), field)
    actx.progress(0.05, "fp16: converting")
    actx.checkpoint()
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    ops = sorted({*DEFAULT_OP_BLOCK_LIST, *cfg.op_block_list})
    with quiet_quantizer(actx.log, "fp16: "):
        # a path, not a ModelProto: shape inference then works past protobuf's 2 GiB (its
        # temporary file sits beside the source so external data resolves, then is removed)
        model = convert_float_to_float16(
            str(source), min_positive_val=cfg.min_positive_val, max_finite_val=cfg.max_finite_val,
            keep_io_types=cfg.keep_io_types, op_block_list=ops, node_block_list=blocked,
        )  # fmt: skip
        _drop_initializer_value_info(model)
        # the casts added around nodes kept in fp32 are appended at the end of the node list;
        # onnx.checker wants producers before consumers
        OnnxModel.graph_topological_sort(model.graph)
    actx.checkpoint()
    path = unique_path(Path(actx.out_dir), "model.fp16")
    save_model(model, path, external=has_external_data(source))
    actx.progress(1.0, f"fp16: wrote {path.name}")
    summary = {
        **{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)},
        "op_block_list": list(cfg.op_block_list),
        "exclude_nodes": list(cfg.exclude_nodes),
        "nodes_kept_fp32": len(blocked),
    }
    return ArtifactResult("onnx-fp16", path, summary, [CPU_TRUTH])
