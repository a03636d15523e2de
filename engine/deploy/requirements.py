"""One function per requirement a target can set; each returns the requirement's record:
{name, passed, measured, limit, unit, reason}. Reasons say what to do about a failure."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import onnx

from engine.deploy.targets import TargetProfile
from engine.export.runtime import onnx_opset, onnx_size_bytes

MB = 1e6
PEAK_TIMEOUT_S = 600
# operators that only appear in a quantized graph (onnxruntime's int8 and int4 outputs)
QUANT_OPS = frozenset({
    "QLinearMatMul", "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearSoftmax", "QGemm",
    "QAttention", "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul",
    "MatMulIntegerToFloat", "DequantizeLinear", "QuantizeLinear", "MatMulNBits", "GatherBlockQuantized",
})
LOW_BIT = frozenset({onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.INT4,
                     onnx.TensorProto.UINT4})


def req(name: str, passed: bool, measured: Any, limit: Any, unit: str, reason: str = "") -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "measured": measured, "limit": limit,
            "unit": unit, "reason": "" if passed else reason}


def _shrink_advice(measured: float, limit: float, int8: bool) -> str:
    """'quantize to int8 or prune 40% of FFN': what brings `measured` under `limit`."""
    cut = math.ceil((1 - limit / measured) * 100)
    prune = f"prune about {cut}% of the weights (the FFN layers hold most of them)"
    if int8:  # already int8: only fewer weights help
        return prune if cut < 90 else "it is already int8; choose a smaller model or distil one"
    return f"quantize to int8 (about 4x smaller) or {prune}"


def size_req(path: Path, target: TargetProfile, int8: bool) -> dict[str, Any]:
    mb = onnx_size_bytes(path) / MB
    limit = target.max_size_mb
    return req("file size", mb <= limit, round(mb, 3), limit, "MB",
               f"file size {mb:.1f} MB > {limit:g} MB: {_shrink_advice(mb, limit, int8)}")


def peak_memory_mb(path: Path, batch: int, seq: int, threads: int) -> dict[str, Any]:
    """{peak_mb, baseline_mb, method} from a child process (engine/deploy/peak_memory.py)."""
    script = Path(__file__).with_name("peak_memory.py")
    done = subprocess.run([sys.executable, str(script), str(path), str(batch), str(seq), str(threads)],
                          capture_output=True, text=True, timeout=PEAK_TIMEOUT_S)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"the measuring process failed: {tail[:300]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_req(path: Path, target: TargetProfile, threads: int, int8: bool) -> dict[str, Any]:
    limit, shape = target.max_peak_memory_mb, f"{target.latency_batch}x{target.latency_seq}"
    try:
        got = peak_memory_mb(path, target.latency_batch, target.latency_seq, threads)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError, OSError) as exc:
        return req("peak memory", False, None, limit, "MB", f"not measured: {exc}")
    mb = got["peak_mb"]
    return req("peak memory", mb <= limit, round(mb, 1), limit, "MB",
               f"peak memory {mb:.0f} MB > {limit:g} MB (one {shape} batch): "
               f"{_shrink_advice(mb, limit, int8)}")


def quantized_facts(path: Path) -> tuple[int, int]:
    """(quantized operator nodes, int8/uint8/int4 weight tensors) in the file's graph."""
    model = onnx.load(str(path), load_external_data=False)
    nodes = sum(1 for n in model.graph.node if n.op_type in QUANT_OPS)
    weights = sum(1 for t in model.graph.initializer if t.data_type in LOW_BIT and len(t.dims) >= 1
                  and math.prod(t.dims) > 1)  # zero points are scalars, weights are not
    return nodes, weights


def int8_req(nodes: int, weights: int) -> dict[str, Any]:
    ok = nodes > 0 and weights > 0
    return req("int8 weights", ok, f"{weights} int8 weight tensors, {nodes} quantized nodes",
               "int8 required", "", "needs int8 weights: the file has "
               f"{weights} int8 weight tensors; add an int8 step (int8_dynamic or int8_static)")


def opset_req(path: Path, target: TargetProfile) -> dict[str, Any]:
    opset, limit = onnx_opset(path), target.max_opset
    return req("opset", opset <= limit, opset, limit, "",
               f"opset {opset} > {limit}: the target's runtime implements up to {limit}; "
               f"re-export with export.opset: {limit}")
