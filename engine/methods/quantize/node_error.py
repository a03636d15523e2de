"""Per-node quantization error: each quantized node's output against fp32.

The nodes: MatMul/Gemm/Conv, and the ops with weights that onnxruntime quantizes whole:
the transformer optimizer's fused Attention (QKV projection inside; dynamic int8 makes it
QAttention) and EmbedLayerNormalization (QEmbedLayerNormalization), and embedding Gathers
(dynamic int8 stores their tables in int8). Fused nodes (Attention_0) are named by the
module they replaced, read from the exported file (onnx_layers.optimized_layers).

How it is measured (the same for every format, so the numbers compare): both files are run
on the same feeds with the needed tensors exposed as extra graph outputs, and each
quantized node's output in the quantized file is compared with the same tensor in the fp32
file. No twin model is built: what is measured is the file that ships.
- QDQ (`quantize_static`, QuantFormat.QDQ): the node keeps its name and output; its
  value before the output's own QuantizeLinear is compared (what onnxruntime's
  qdq_loss_debug calls "pre_qdq"; a graph output renamed `X_QuantizeLinear_Input` is
  followed).
- Dynamic int8 (`quantize_dynamic`) and QOperator: the node becomes `<name>_quant`
  (MatMulInteger / ConvInteger + scale, QLinearMatMul, QLinearConv, QAttention ...); dynamic
  int8 first rewrites a Gemm as `<name>_MatMul` + `<name>_Add`, and the Gemm's output (after
  the Add) is what is compared. Its float output keeps the fp32 name, or exists only as
  `X_quantized`, which is dequantized here with the file's own scale and zero point.
SQNR is onnxruntime.quantization.qdq_loss_debug's definition, 20·log10(‖x‖ / ‖x − x̂‖)
over all batches; rel_error = ‖x − x̂‖ / ‖x‖. Both include error carried in from earlier
layers. local_sqnr_db isolates what the node adds: noise powers of independent errors
add, so the node's own relative noise power is rel_error² minus that of its worst
activation input (clipped at 0; a fused Attention's softmax averages away part of its
input's noise, so a deep one can read as adding none). The list is sorted by local_sqnr_db, worst first: keeping
those nodes in fp32 helps most (a late layer is not blamed for an early one's error).
fp32_path must be the float file that was handed to the quantizer (after any
pre-processing), so node and tensor names match.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.methods.quantize import tensor_taps as taps
from engine.methods.quantize.onnx_layers import layer_name, optimized_layers

if TYPE_CHECKING:
    import onnx

QUANTIZABLE_OPS = ("MatMul", "Gemm", "Conv")
# ...and the ops with weights that onnxruntime quantizes whole: graph optimization's fused
# attention (QKV projection inside) and embedding + LayerNorm, and embedding lookups
MEASURED_OPS = (*QUANTIZABLE_OPS, "Attention", "EmbedLayerNormalization", "Gather")
Progress = Callable[[int, int], None]
_EPS = float(np.finfo(float).eps)  # qdq_loss_debug's floor on both norms


@dataclass(frozen=True)
class NodeError:
    node: str  # the fp32 node name (what nodes_to_exclude takes)
    op_type: str  # MatMul | Gemm | Conv | Attention | EmbedLayerNormalization | Gather
    layer: str  # the PyTorch module name, as the model anatomy shows it
    sqnr_db: float  # output vs fp32, higher is better (includes upstream error)
    rel_error: float  # ‖x − x̂‖ / ‖x‖ of the output
    # the error this node adds by itself, higher is better; ~313 dB (the float floor) when
    # its output is no noisier than its inputs already were
    local_sqnr_db: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_quantized(
    node: onnx.NodeProto, by_name: dict, producer_op: dict[str, str], fp_inits: set[str]
) -> bool:
    # QOperator / dynamic: the node was replaced (QAttention, QEmbedLayerNormalization ...);
    # dynamic int8 first rewrites a Gemm as <name>_MatMul + <name>_Add
    if node.name + "_quant" in by_name or node.name + "_MatMul_quant" in by_name:
        return True
    same = by_name.get(node.name)
    if same is None:
        return False
    # QDQ: same node, its second operand (or a weight) dequantized; dynamic Gather: it
    # reads the int8 copy of its table
    if node.op_type in QUANTIZABLE_OPS and len(same.input) > 1:
        if producer_op.get(same.input[1]) == "DequantizeLinear":
            return True
    return any(
        a in fp_inits and (b == f"{a}_quantized" or producer_op.get(b) == "DequantizeLinear")
        for a, b in zip(node.input, same.input, strict=False)
    )


def _qparams(q: onnx.ModelProto, qname: str, name: str, inits: set[str]) -> tuple[str, str] | None:
    """Scale and zero point of the quantized tensor `qname` (the float tensor `name`)."""
    if f"{name}_scale" in inits and f"{name}_zero_point" in inits:
        return f"{name}_scale", f"{name}_zero_point"
    for node in q.graph.node:
        if not node.op_type.startswith("QLinear"):
            continue
        # QLinear* inputs come as (tensor, scale, zero point) triples; outputs' at 6 and 7
        for i, inp in enumerate(node.input[:-2]):
            if inp == qname and i % 3 == 0:
                return node.input[i + 1], node.input[i + 2]
        if qname in node.output and len(node.input) > 7:
            return node.input[6], node.input[7]
    return None


class _QuantTaps:
    """Where each fp32 tensor's float value lives in the quantized file."""

    def __init__(self, q: onnx.ModelProto):
        self.q, self.inits = q, taps.initializer_names(q)
        self.produced = taps.produced_names(q)
        self.extra: list[onnx.NodeProto] = []  # DequantizeLinear nodes added for taps

    def find(self, name: str) -> str | None:
        from onnx import helper

        for candidate in (f"{name}_QuantizeLinear_Input", name):
            if candidate in self.produced:
                return candidate
        qname = f"{name}_quantized"
        params = _qparams(self.q, qname, name, self.inits) if qname in self.produced else None
        if params is None:
            return None
        out = f"{name}__float_tap"
        if out not in self.produced:
            self.extra.append(helper.make_node("DequantizeLinear", [qname, *params], [out]))
            self.produced.add(out)
        return out

    def model(self, names: list[str]) -> onnx.ModelProto:
        tapped = taps.with_outputs(self.q, names)
        tapped.graph.node.extend(self.extra)
        return tapped


def _noise(
    fp: Iterable[dict],
    qt: Iterable[dict],
    pairs: dict[str, str],
    progress: Progress | None,
    total: int,
) -> dict[str, tuple[float, float]]:
    """{fp32 tensor: (signal power, noise power)} summed over all batches."""
    sums = {name: [0.0, 0.0] for name in pairs}
    for k, (a, b) in enumerate(zip(fp, qt, strict=True)):
        for name, tap in pairs.items():
            x, y = a[name].astype(np.float64), b[tap].astype(np.float64)
            if x.shape != y.shape:
                raise ValueError(f"tensor {name}: shape {x.shape} in fp32, {y.shape} quantized")
            sums[name][0] += float(np.sum(x * x))
            sums[name][1] += float(np.sum((x - y) ** 2))
        if progress is not None:
            progress(k + 1, total)
    return {name: (max(s, _EPS**2), max(n, _EPS**2)) for name, (s, n) in sums.items()}


def _to_db(ratio: float) -> float:
    return 10.0 * math.log10(ratio)


def _selected(fp: onnx.ModelProto, q: onnx.ModelProto) -> list[onnx.NodeProto]:
    by_name = {n.name: n for n in q.graph.node if n.name}
    producer_op = {o: n.op_type for n in q.graph.node for o in n.output}
    inits = taps.initializer_names(fp)
    return [
        n
        for n in fp.graph.node
        if n.op_type in MEASURED_OPS and n.name and _is_quantized(n, by_name, producer_op, inits)
    ]


def _carriers(
    producer: dict[str, onnx.NodeProto], node: onnx.NodeProto, inits: set[str], where: _QuantTaps
) -> list[str]:
    """The activation inputs whose error `node` inherits, as tensors both files have.

    A quantizer may fuse a Relu into the Add before it (QOperator), so the fp32 input has no
    twin; the nearest upstream tensor that has one stands in for it.
    """
    found = []
    for name in (i for i in node.input[:2] if i and i not in inits):
        for _ in range(8):
            if where.find(name) is not None:
                found.append(name)
                break
            up = producer.get(name)
            ins = [i for i in up.input if i and i not in inits] if up is not None else []
            if not ins:
                break  # a graph input: nothing carried in
            name = ins[0]
    return found


def _carried(power: dict[str, tuple[float, float]], inputs: list[str]) -> float:
    """The worst relative noise power among the inputs; an exact input (token ids, an
    all-zero mask: noise at the floor) carries none, whatever its signal."""
    return max(
        (power[i][1] / power[i][0] for i in inputs if i in power and power[i][1] > _EPS**2),
        default=0.0,
    )


def _layers(fp: onnx.ModelProto, source: Path | None) -> dict[str, str]:
    """Node name -> module, read from the exported file when the fp32 file is its optimized
    copy: optimization drops the exporter's node metadata and writes fused nodes
    (Attention_0) that only the export's tensors can name."""
    if source is None:
        return {}
    import onnx

    exported = onnx.load(str(source), load_external_data=False).graph
    return optimized_layers(exported, fp.graph)


def node_errors(
    fp32_path: Path,
    quant_path: Path,
    feeds: list[dict[str, np.ndarray]],
    *,
    progress: Progress | None = None,
    source: Path | None = None,
) -> list[NodeError]:
    """Error of every quantized node's output against fp32 (MatMul/Gemm/Conv, and the
    fused Attention / EmbedLayerNormalization and embedding Gathers), worst first.

    `progress(done, total)` is called as batches finish (both files run batch by batch,
    so memory holds one batch of tapped tensors at a time). `source`: the exported file
    fp32_path was optimized from, whose module names the layers get.
    """
    fp, q = taps.load(fp32_path), taps.load(quant_path)
    taps.check_feeds(fp, feeds)
    nodes = _selected(fp, q)
    if not nodes:
        raise ValueError(
            f"{Path(quant_path).name}: no quantized MatMul/Gemm/Conv matches a node of "
            f"{Path(fp32_path).name}; give the fp32 file that was handed to the quantizer"
        )
    fp_inits, where = taps.initializer_names(fp), _QuantTaps(q)
    producer = {o: n for n in fp.graph.node for o in n.output}
    inputs = {n.name: _carriers(producer, n, fp_inits, where) for n in nodes}
    wanted = {n.output[0] for n in nodes} | {i for ins in inputs.values() for i in ins}
    pairs = {name: tap for name in sorted(wanted) if (tap := where.find(name)) is not None}
    fp_run = taps.run(taps.session(taps.with_outputs(fp, list(pairs))), list(pairs), feeds)
    q_run = taps.run(taps.session(where.model(list(pairs.values()))), list(pairs.values()), feeds)
    power = _noise(fp_run, q_run, pairs, progress, len(feeds))
    layers = _layers(fp, source)
    out: list[NodeError] = []
    for node in nodes:
        if node.output[0] not in power:
            continue  # its output has no float value in the quantized file
        signal, noise = power[node.output[0]]
        carried = _carried(power, inputs[node.name])
        own = max(noise / signal - carried, _EPS**2)
        out.append(
            NodeError(
                node=node.name,
                op_type=node.op_type,
                layer=layers.get(node.name) or layer_name(node, fp_inits),
                sqnr_db=_to_db(signal / noise),
                rel_error=math.sqrt(noise / signal),
                local_sqnr_db=_to_db(1.0 / own),
            )
        )
    return sorted(out, key=lambda e: (e.local_sqnr_db, e.sqnr_db))
