"""Which nodes of an exported ONNX graph a weight-only method can store in fewer bits.

Only graph metadata is read (`load_external_data=False`): this is cheap on a multi-GB file.
onnx is imported when a graph is read, not with this module (registry discovery imports
every method module, and onnx is slow to load).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

# which input of each op type holds the weight the quantizers replace
WEIGHT_INPUT = {"MatMul": 1, "Gather": 0}
# onnx.TensorProto FLOAT and FLOAT16: what MatMulNBits and GatherBlockQuantized can store
_FLOAT_TYPES = (1, 10)


def load_graph(path: str | Path) -> onnx.ModelProto:
    """The model without its weights' bytes (names, shapes and types only)."""
    import onnx

    return onnx.load(str(path), load_external_data=False)


def weight_nodes(model: onnx.ModelProto, op_types: Iterable[str]) -> list[onnx.NodeProto]:
    """Top-level nodes of `op_types` whose weight is a constant 2-D float initializer.

    A MatMul of two activations (attention scores) has no weight and is not a candidate.
    """
    wanted = set(op_types)
    inits = {t.name: t for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        slot = WEIGHT_INPUT.get(node.op_type)
        if node.op_type not in wanted or slot is None or len(node.input) <= slot:
            continue
        weight = inits.get(node.input[slot])
        if weight is not None and weight.data_type in _FLOAT_TYPES and len(weight.dims) == 2:
            found.append(node)
    return found
