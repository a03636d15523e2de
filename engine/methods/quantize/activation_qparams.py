"""Which activation tensors an int8 file quantized, and the range it gave each one.

Read from the quantized file itself, so the range drawn is the one that ships whatever
calibrator chose it (MinMax, Entropy, Percentile):
Found per quantized MatMul/Gemm/Conv, as onnxruntime names what it writes:
- QDQ (`quantize_static`): the node keeps its name; its input comes from a
  `DequantizeLinear(X_quantized, scale, zero point)`.
- QOperator: the node becomes `<name>_quant` (QLinearMatMul, QLinearConv, QGemm) and takes
  each input's scale and zero point itself. Its input may be another tensor than the fp32
  one (a Relu fused into the QLinearAdd before it): the range is still the one this node's
  input is quantized with.
- Dynamic (`quantize_dynamic`): `<name>_quant` (MatMulInteger, ConvInteger) fed by
  `DynamicQuantizeLinear(X)`: no stored range; each run quantizes with that batch's own
  min/max.
A stored (scale, zero point) encodes the range [(qmin − zp)·scale, (qmax − zp)·scale].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.methods.quantize.node_error import MEASURED_OPS

if TYPE_CHECKING:
    import onnx

# QLinear ops: where each quantized input's (tensor, scale, zero point) triple starts
_QLINEAR = {"QLinearMatMul": (0, 3), "QLinearConv": (0, 3), "QGemm": (0, 3)}
_QRANGE = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767)}


@dataclass(frozen=True)
class QuantRange:
    """How one activation tensor is quantized in the file."""

    dynamic: bool  # DynamicQuantizeLinear: the range is each batch's own
    low: float | None = None  # the float range the stored scale/zero point encode
    high: float | None = None
    scale: float | None = None
    zero_point: int | None = None
    qtype: str | None = None  # uint8 | int8 | ...


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Small initializers (scales and zero points are scalars) as arrays."""
    from onnx import numpy_helper

    out = {}
    for init in model.graph.initializer:
        if int(np.prod(init.dims)) <= 1 and not init.external_data:
            out[init.name] = numpy_helper.to_array(init)
    return out


def _stored(scale: np.ndarray | None, zp: np.ndarray | None) -> QuantRange | None:
    """The range a per-tensor (scale, zero point) pair encodes; None for per-channel or odd types."""
    if scale is None or scale.size != 1:
        return None
    zp = np.zeros((), np.uint8) if zp is None else zp
    qtype = str(zp.dtype)
    if qtype not in _QRANGE or zp.size != 1:
        return None
    s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
    qmin, qmax = _QRANGE[qtype]
    return QuantRange(False, (qmin - z) * s, (qmax - z) * s, s, z, qtype)


def _node_range(node: onnx.NodeProto, slot: int, q: _File) -> QuantRange | None:
    """How input `slot` (0 or 1) of fp32 node `node` is quantized in the file, if it is."""
    same = q.by_name.get(node.name)
    if same is not None and slot < len(same.input):  # QDQ: same node, input dequantized
        dq = q.producer.get(same.input[slot])
        if dq is not None and dq.op_type == "DequantizeLinear":
            return q.stored(dq.input[1], dq.input[2] if len(dq.input) > 2 else "")
    # dynamic int8 splits a Gemm into MatMul + Add and quantizes the MatMul
    qname = next((n for n in (f"{node.name}_quant", f"{node.name}_MatMul_quant") if n in q.by_name), "")
    replaced = q.by_name.get(qname)
    if replaced is None or slot >= len(replaced.input):
        return None
    if replaced.op_type in _QLINEAR:  # (tensor, scale, zero point) per quantized input
        base = _QLINEAR[replaced.op_type][slot]
        return q.stored(replaced.input[base + 1], replaced.input[base + 2])
    up = q.producer.get(replaced.input[slot])
    if up is not None and up.op_type == "DynamicQuantizeLinear":
        return QuantRange(True)
    # MatMulInteger on an input that is already int8 (a Gather of int8 weights): its zero
    # point is the node's third input, its scale the first factor of the scales Mul
    scales = q.by_name.get(f"{qname}_scales_mul")
    if slot == 0 and len(replaced.input) > 2 and scales is not None:
        return q.stored(scales.input[0], replaced.input[2])
    return None


class _File:
    """Look-ups into the quantized file."""

    def __init__(self, q: onnx.ModelProto):
        self.inits = _initializers(q)
        self.by_name = {n.name: n for n in q.graph.node if n.name}
        self.producer = {o: n for n in q.graph.node for o in n.output if o}

    def stored(self, scale: str, zp: str) -> QuantRange | None:
        return _stored(self.inits.get(scale), self.inits.get(zp) if zp else None)


def quantized_inputs(
    fp: onnx.ModelProto, q: onnx.ModelProto
) -> dict[str, tuple[QuantRange, list[str]]]:
    """{fp32 activation tensor: (how the file quantizes it, the nodes it feeds)} in graph
    order, for the nodes per-node error measures (MatMul/Gemm/Conv, fused Attention...);
    weights are left out, and so are inputs left in float (and token ids)."""
    fp_inits = {i.name for i in fp.graph.initializer}
    qf = _File(q)
    out: dict[str, tuple[QuantRange, list[str]]] = {}
    for node in fp.graph.node:
        if node.op_type not in MEASURED_OPS or not node.name:  # the error chart's nodes
            continue
        for slot, name in enumerate(node.input[:2]):
            if not name or name in fp_inits:
                continue
            found = out.get(name, (None, []))[0] or _node_range(node, slot, qf)
            if found is not None:
                out.setdefault(name, (found, []))[1].append(node.name)
    return out
