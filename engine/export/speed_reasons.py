"""'Is int8 really faster here?': when a quantized file is not faster, say why and what to try.

Each reason is read from the files or the machine (fusions in the file, Q/DQ nodes left
after onnxruntime's optimizations, matmul sizes, the CPU's int8 instructions), never
guessed from the settings alone, and names the setting to change.
"""

from __future__ import annotations

import platform
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.export.graph_facts import (
    ATTENTION_OPS,
    FUSED_OPS,
    INT8_MATMUL_OPS,
    fused_op_counts,
    int8_cpu_support,
    matmul_nbits_accuracy_levels,
    matmul_weight_shapes,
    op_counts,
    optimized_op_counts,
)

# A file counts as faster from 1.05x fp32's speed: the did-it-shrink verdict's line
# (engine/shrink_artifacts.py), so a card never calls a file faster and explains why it is not.
FASTER = 1.05
# Below this many weight elements (median over the MatMuls), quantizing each input and
# rescaling each output costs about what the int8 multiply saves (measured with
# onnxruntime 1.32 dynamic int8 on AVX-512 VNNI, one thread: tiny-bert's 128 x 384 / 128 x 512
# weights gain ~1.2-1.3x, 16 x 16 and 32 x 32 weights lose at batch 1).
SMALL_WEIGHT = 128 * 128
CPU = "CPUExecutionProvider"


def _speedup(fp32_ms: float, ms: float, speedup: float | None) -> float:
    """The measured speed-up: the paired one when the caller has it, else the p50 ratio."""
    if speedup is not None:
        return speedup
    return fp32_ms / ms if ms > 0 else float("inf")


def _ratio_line(what: str, fp32_ms: float, ms: float, speedup: float) -> str:
    return f"p50 {ms:.2f} ms vs {fp32_ms:.2f} ms for fp32 ({speedup:.2f}x): {what}"


def _fusion_reason(fp32_path: Path, int8_path: Path, fused: Mapping[str, int] | None) -> list[str]:
    """No transformer fusions (or none for attention) in a transformer: loose float ops remain."""
    ops = op_counts(fp32_path)
    if not ("Softmax" in ops or FUSED_OPS & set(ops)):
        return []  # not attention-shaped: the transformer optimizer has nothing to fuse
    found = fused if fused is not None else fused_op_counts(int8_path)
    counts = {op: int(n) for op, n in found.items() if n}
    if not counts:
        ran = "the transformer optimizer ran but fused nothing" if fused is not None else (
            "no transformer fusions were applied before quantizing")
        return [
            f"{ran} (no Attention, SkipLayerNormalization or FastGelu nodes in the file): "
            "attention stays as separate float MatMul/Softmax nodes between the int8 ones and "
            "each quantized MatMul re-quantizes its input - try optimize: transformer (with num_heads "
            "and hidden_size when the model type is not recognised)"
        ]
    if ATTENTION_OPS & set(counts) or op_counts(int8_path)["Softmax"] == 0:
        return []
    done = ", ".join(f"{op} x{n}" for op, n in sorted(counts.items()))
    return [
        f"attention was not fused ({done} were): each layer's attention still runs as separate "
        "float MatMul and Softmax nodes - the optimizer did not match this model's attention "
        "pattern; set num_heads and hidden_size to the model's (optimize: transformer)"
    ]


def _qdq_reason(int8_path: Path, provider: str) -> list[str]:
    """Q/DQ pairs onnxruntime could not fold into int8 kernels on this provider."""
    if op_counts(int8_path)["QuantizeLinear"] == 0:
        return []  # not QDQ format (dynamic int8 quantizes activations inside its kernels)
    try:
        opt = optimized_op_counts(int8_path)
    except Exception:  # e.g. an optimized graph over protobuf's 2 GB: the other reasons stand
        return []
    left = opt["QuantizeLinear"] + opt["DequantizeLinear"]
    if left == 0:
        return []
    float_mm = opt["MatMul"] + opt["Gemm"] + opt["Conv"]
    return [
        f"{left} QuantizeLinear/DequantizeLinear nodes are left after onnxruntime's optimizations "
        f"on {provider} ({float_mm} MatMul/Gemm/Conv still in float): each converts a tensor "
        "between int8 and float at run time around ops this provider has no int8 kernel for - "
        "try quant_format: qoperator, op_types: [MatMul] only, or dynamic int8"
    ]


def _size_reason(fp32_path: Path) -> list[str]:
    """Matmuls so small that quantize/dequantize overhead eats the int8 gain."""
    shapes = matmul_weight_shapes(fp32_path)
    if not shapes:
        return []
    sizes = sorted(r * c for r, c in shapes)
    median = statistics.median(sizes)
    if median >= SMALL_WEIGHT:
        return []
    mid = min(shapes, key=lambda s: abs(s[0] * s[1] - median))
    big = max(shapes, key=lambda s: s[0] * s[1])
    return [
        f"the model's {len(shapes)} matmuls are too small to pay for quantizing "
        f"(median weight {mid[0]}x{mid[1]}, largest {big[0]}x{big[1]}): quantizing each input "
        "and rescaling each output costs about what the int8 multiply saves - int8 pays from "
        "roughly 128x128 weights; keep fp32 here, or time at the deployment shape "
        "(export.latency_batch / latency_seq)"
    ]


def _cpu_reason(settings: Mapping[str, Any]) -> list[str]:
    """Whether this CPU has int8 dot-product instructions, and what that means for reduce_range."""
    supported, found = int8_cpu_support()
    if supported is None:
        return [
            f"whether this CPU has int8 dot-product instructions (VNNI) is unknown on "
            f"{platform.system() or 'this system'}; without them int8 is rarely faster than fp32"
        ]
    if not supported:
        return [
            "this CPU lacks int8 dot-product instructions (no avx512_vnni, avx_vnni or amx_int8 "
            "in /proc/cpuinfo): int8 matmuls widen to 16 bits on AVX2 and run about as fast as "
            "fp32 - int8 pays on a CPU with VNNI; here set reduce_range: true (7-bit weights "
            "avoid the AVX2 path's saturation: an accuracy fix, not a speed one)"
        ]
    if settings.get("reduce_range"):
        return [
            f"reduce_range is on but this CPU has {', '.join(found)}: 7-bit weights cost "
            "accuracy and buy nothing here - set reduce_range: false"
        ]
    return []


def int8_speed_reasons(
    fp32_path: str | Path,
    int8_path: str | Path,
    fp32_ms: float,
    int8_ms: float,
    fused_counts: Mapping[str, int] | None = None,
    *,
    provider: str = CPU,
    settings: Mapping[str, Any] | None = None,
    speedup: float | None = None,
) -> list[str]:
    """Plain-words reasons an int8 file is not faster than fp32; [] when it is (>= FASTER, 1.05x).

    The first line states the measured ratio; each further line is one cause found in the
    files or on this machine with the setting to try. `fused_counts`: the transformer
    optimizer's report ({op: count}) when the method ran it (else the file is read);
    `settings`: the quantization settings used (reduce_range...); `speedup`: the paired
    side-by-side speed-up (side_by_side.paired_speedup) when known, else fp32_ms / int8_ms.
    """
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    ratio = _speedup(fp32_ms, int8_ms, speedup)
    if ratio >= FASTER:
        return []
    reasons = [_ratio_line("int8 is not faster here", fp32_ms, int8_ms, ratio)]
    if provider != CPU:
        reasons.append(
            f"onnxruntime runs this file on {provider}: its int8 kernels (MatMulInteger, "
            "DynamicQuantizeMatMul, QLinearMatMul) are CPU kernels, so quantized nodes fall back "
            "to the CPU with copies around them - on a GPU use fp16 instead"
        )
    ops = op_counts(int8_path)
    if not (INT8_MATMUL_OPS & set(ops)) and ops["QuantizeLinear"] == 0:
        reasons.append(
            "no MatMul/Gemm/Conv in the file was quantized (all excluded by op types or node "
            "names?): it is the fp32 model plus conversions - check op_types and exclude_nodes"
        )
    reasons += _fusion_reason(fp32_path, int8_path, fused_counts)
    reasons += _qdq_reason(int8_path, provider)
    reasons += _size_reason(fp32_path)
    reasons += _cpu_reason(settings or {})
    if len(reasons) == 1:
        reasons.append(
            "no cause found in the files: at this batch x sequence fixed per-run costs may "
            "dominate - time at the deployment shape (export.latency_batch / latency_seq)"
        )
    return reasons


def fp16_speed_note(
    fp32_path: str | Path,
    fp16_path: str | Path,
    fp32_ms: float,
    fp16_ms: float,
    *,
    provider: str = CPU,
    speedup: float | None = None,
) -> list[str]:
    """The truth about an fp16 file's speed: on CPU it halves the size but usually runs slower."""
    casts = op_counts(fp16_path)["Cast"]
    ratio = _speedup(fp32_ms, fp16_ms, speedup)
    if provider == CPU:
        verdict = "slower than fp32" if ratio < 1 / FASTER else (
            "faster than fp32 on this CPU" if ratio >= FASTER else "about as fast as fp32")
        return [
            _ratio_line(f"fp16 is {verdict}", fp32_ms, fp16_ms, ratio),
            "fp16 halves the file, but onnxruntime's CPU provider has few fp16 kernels, so most "
            f"ops run in fp32 behind conversions ({casts} Cast nodes in the file) and fp16 on CPU "
            "usually runs slower: fp16 pays on GPUs (CUDA, TensorRT, DirectML) and for download "
            "and disk size; for CPU speed use int8",
        ]
    if ratio >= FASTER:
        return []
    return [
        _ratio_line(f"fp16 is not faster on {provider}", fp32_ms, fp16_ms, ratio),
        f"{casts} Cast nodes in the file: ops kept in fp32 (the op block list) convert tensors "
        "back and forth; shorten the block list or keep_io_types off",
    ]


def int4_speed_note(
    fp32_path: str | Path,
    int4_path: str | Path,
    fp32_ms: float,
    int4_ms: float,
    *,
    provider: str = CPU,
    shape: list[int] | None = None,
    speedup: float | None = None,
) -> list[str]:
    """Why a weight-only int4 file is not faster; [] when it is (>= FASTER, 1.05x)."""
    ratio = _speedup(fp32_ms, int4_ms, speedup)
    if ratio >= FASTER:
        return []
    levels = matmul_nbits_accuracy_levels(int4_path)
    if not levels:
        return [_ratio_line("int4 is not faster here", fp32_ms, int4_ms, ratio),
                "no MatMulNBits node in the file: no MatMul was quantized to 4 bits"]
    at = f" at {' x '.join(map(str, shape))}" if shape else ""
    reasons = [
        _ratio_line("int4 is not faster here", fp32_ms, int4_ms, ratio),
        "int4 weight-only quantization pays where reading the weights is the bottleneck "
        f"(large LMs generating a token at a time){at}: the 4-bit weights are unpacked on "
        "every call, so on small models or long inputs it mostly saves size",
    ]
    if provider == CPU and max(levels) < 4:
        reasons.append(
            "the MatMulNBits nodes compute in fp32 (accuracy_level "
            f"{max(levels)}): accuracy_level: 4 lets the CPU multiply in int8, usually faster"
        )
    return reasons
