"""Which nodes of an exported ONNX graph a weight-only method can touch, and which layer each
came from, so exclusion patterns read the way the model anatomy names layers
(`blocks.0.attn.qkv`) as well as by ONNX node name (`/blocks.0/attn/qkv/MatMul`).

Only graph metadata is read (`load_external_data=False`): this is cheap on a multi-GB file.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path

import onnx
from torch import nn

# float32 / float16 initializers: what MatMulNBits and GatherBlockQuantized can store
_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
# which input of each op type holds the weight the quantizers replace
WEIGHT_INPUT = {"MatMul": 1, "Gather": 0}
# the PyTorch layers those ONNX ops come from
LAYER_TYPES: dict[str, tuple[type[nn.Module], ...]] = {
    "MatMul": (nn.Linear,),
    "Gather": (nn.Embedding,),
}


def load_graph(path: str | Path) -> onnx.ModelProto:
    """The model without its weights' bytes (names, shapes and types only)."""
    return onnx.load(str(path), load_external_data=False)


def layer_name(node: onnx.NodeProto) -> str:
    """The PyTorch module a node was exported from ("" when the exporter did not say)."""
    for prop in node.metadata_props:
        # the dynamo exporter: "['', 'blocks.0', 'blocks.0.attn', 'blocks.0.attn.qkv', 'linear']"
        # (the last entry names the op, the one before it the module)
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)  # a literal only: nothing is executed
            except (ValueError, SyntaxError):
                break
            if isinstance(scopes, list) and len(scopes) >= 2:
                return str(scopes[-2])
            break
    if node.name.startswith("/"):  # the TorchScript exporter: "/blocks.0/attn/qkv/MatMul"
        return ".".join(node.name.strip("/").split("/")[:-1])
    return ""


def weight_nodes(model: onnx.ModelProto, op_types: Iterable[str]) -> list[onnx.NodeProto]:
    """Top-level nodes of `op_types` whose weight is a constant 2-D float initializer.

    A MatMul of two activations (attention scores) has no weight and is not a candidate.
    """
    inits = {t.name: t for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        slot = WEIGHT_INPUT.get(node.op_type)
        if node.op_type not in op_types or slot is None or len(node.input) <= slot:
            continue
        weight = inits.get(node.input[slot])
        if weight is not None and weight.data_type in _FLOAT_TYPES and len(weight.dims) == 2:
            found.append(node)
    return found


def node_matches(node: onnx.NodeProto, patterns: Sequence[str]) -> bool:
    """Whether a pattern (fnmatch) matches the node's name or its layer's name."""
    names = [node.name, layer_name(node)]
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names if n)


def unmatched_patterns(patterns: Sequence[str], nodes: Sequence[onnx.NodeProto]) -> list[str]:
    """The patterns that match none of `nodes` (a typo would otherwise exclude nothing)."""
    return [p for p in patterns if not any(node_matches(n, [p]) for n in nodes)]


def is_node_pattern(pattern: str) -> bool:
    """A pattern written as an ONNX node name (layer names have no '/'): only the exported
    file can check it."""
    return "/" in pattern or pattern.startswith("node_")


def layer_pattern_problems(
    field: str, patterns: Sequence[str], module: nn.Module, op_types: Iterable[str]
) -> list[str]:
    """Layer-name patterns that match no layer the method would quantize (checked on the
    PyTorch model before anything runs; node-name patterns wait for the exported file)."""
    types = tuple(t for op in op_types for t in LAYER_TYPES.get(op, ()))
    names = [n for n, m in module.named_modules() if types and isinstance(m, types)]
    bad = [
        p for p in patterns
        if not is_node_pattern(p) and not any(fnmatch.fnmatchcase(n, p) for n in names)
    ]  # fmt: skip
    if not bad:
        return []
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return [
        f"{field}: {', '.join(repr(p) for p in bad)} matches no layer (layers: {shown}); "
        f"use layer names such as {names[0] if names else 'blocks.0.mlp.fc'!r} or ONNX node "
        f"names starting with '/'"
    ]
