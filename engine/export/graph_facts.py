"""Facts about an ONNX graph that explain its speed: matmul sizes, fusions, leftover Q/DQ, CPU flags.

Read from the files (graph only: external weights are not loaded, shapes are in the
tensor headers) and from the machine, so a reason on the card points at something real.
"""

from __future__ import annotations

import platform
import tempfile
from collections import Counter
from pathlib import Path

import onnx
import onnxruntime as ort

from engine.export.runtime import ort_providers

# Operators onnxruntime's transformer optimizer (or its own fusions) leaves in a graph.
FUSED_OPS = frozenset({
    "Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention",
    "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "EmbedLayerNormalization",
    "FastGelu", "BiasGelu", "Gelu", "QuickGelu", "BiasSplitGelu", "RotaryEmbedding", "QAttention",
})  # fmt: skip
ATTENTION_OPS = frozenset({
    "Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention", "QAttention",
})  # fmt: skip
INT8_MATMUL_OPS = frozenset({
    "MatMulInteger", "DynamicQuantizeMatMul", "QLinearMatMul", "MatMulIntegerToFloat",
    "QGemm", "QAttention", "QLinearConv", "ConvInteger", "DynamicQuantizeLSTM",
})  # fmt: skip
FLOAT_MATMUL_OPS = frozenset({"MatMul", "Gemm", "Conv", "FusedMatMul"})
# CPU flags that give int8 dot products: x86 VNNI (AVX-512 or AVX), AMX; Arm dot product / i8mm.
INT8_CPU_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni", "i8mm", "asimddp")


def _graph(path: str | Path) -> onnx.GraphProto:
    return onnx.load(str(path), load_external_data=False).graph


def op_counts(path: str | Path) -> Counter[str]:
    """How many nodes of each operator type the file's main graph has."""
    return Counter(n.op_type for n in _graph(path).node)


def fused_op_counts(path: str | Path) -> dict[str, int]:
    """Transformer fusions present in the file itself: {op type: count}."""
    return {op: n for op, n in op_counts(path).items() if op in FUSED_OPS}


def matmul_weight_shapes(path: str | Path) -> list[tuple[int, int]]:
    """(rows, cols) of each 2-D weight a MatMul/Gemm multiplies by (through a Transpose too)."""
    graph = _graph(path)
    inits = {t.name: tuple(int(d) for d in t.dims) for t in graph.initializer}
    # torch's exporters sometimes store Linear weights as an initializer fed through a
    # Transpose (or Constant nodes); follow one such step to the stored tensor.
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            inits[node.output[0]] = tuple(int(d) for d in node.attribute[0].t.dims)
    for node in graph.node:
        if node.op_type in ("Transpose", "Identity", "Cast") and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
    shapes = []
    for node in graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            dims = [inits[i] for i in node.input[:2] if i in inits and len(inits[i]) == 2]
            shapes.extend(dims[:1])
    return shapes


def matmul_nbits_accuracy_levels(path: str | Path) -> set[int]:
    """accuracy_level of each MatMulNBits (int4) node; 0 when unset (fp32 compute)."""
    return {
        next((int(a.i) for a in n.attribute if a.name == "accuracy_level"), 0)
        for n in _graph(path).node if n.op_type == "MatMulNBits"
    }  # fmt: skip


def optimized_op_counts(path: str | Path) -> Counter[str]:
    """Operator counts after onnxruntime's own graph optimizations for this machine's provider."""
    with tempfile.TemporaryDirectory(prefix="ort-opt-") as tmp:
        out = Path(tmp) / "optimized.onnx"
        opts = ort.SessionOptions()
        # the level every session in the workbench runs at (runtime.make_session)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 4  # saving an ENABLE_ALL graph warns it is machine-specific
        opts.intra_op_num_threads = 1
        opts.optimized_model_filepath = str(out)
        ort.InferenceSession(str(path), sess_options=opts, providers=ort_providers())
        return op_counts(out)


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo; None where they cannot be read."""
    if platform.system() != "Linux":
        return None
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):  # x86 / Arm
            flags.update(value.split())
    return flags or None


def int8_cpu_support() -> tuple[bool | None, list[str]]:
    """(True/False/None for unknown, the int8 dot-product flags found) for this CPU."""
    flags = cpu_flags()
    if flags is None:
        return None, []
    found = [f for f in INT8_CPU_FLAGS if f in flags]
    return bool(found), found
