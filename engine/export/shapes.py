"""Which input axes stay dynamic, and example inputs resized along them."""

from __future__ import annotations

from collections.abc import Sequence

import onnx
import torch
from torch import Tensor

Axes = dict[str, dict[int, str]]

TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")


def default_dynamic_axes(input_names: Sequence[str]) -> Axes:
    """Batch and sequence axes for token inputs, batch only for anything else."""
    return {
        name: {0: "batch", 1: "sequence"} if name in TEXT_INPUTS else {0: "batch"}
        for name in input_names
    }


def valid_axes(axes: Axes, names: Sequence[str], inputs: Sequence[Tensor]) -> Axes:
    """Drop axes an input does not have (a 1-D input cannot have a sequence axis)."""
    ranks = {n: x.dim() for n, x in zip(names, inputs, strict=True)}
    return {
        name: {a: label for a, label in dims.items() if a < ranks[name]}
        for name, dims in axes.items()
        if name in ranks and any(a < ranks[name] for a in dims)
    }


def _append_first(x: Tensor, axis: int) -> Tensor:
    """x with its first slice along `axis` appended: one larger, still valid ids/masks."""
    return torch.cat([x, x.narrow(axis, 0, 1)], dim=axis)


def at_least_two(inputs: Sequence[Tensor], names: Sequence[str], axes: Axes) -> tuple:
    """Grow size-1 dynamic axes to 2, since torch.export bakes a size of 1 into the graph."""
    out = []
    for name, x in zip(names, inputs, strict=True):
        for axis in axes.get(name, {}):
            if x.shape[axis] == 1:
                x = _append_first(x, axis)
        out.append(x)
    return tuple(out)


def one_larger(inputs: Sequence[Tensor], names: Sequence[str], axes: Axes) -> tuple:
    """The inputs with every dynamic axis one larger than in the example."""
    out = []
    for name, x in zip(names, inputs, strict=True):
        for axis in axes.get(name, {}):
            x = _append_first(x, axis)
        out.append(x)
    return tuple(out)


def fixed_axes(model: onnx.ModelProto, axes: Axes) -> list[str]:
    """Axes asked to be dynamic that the graph's inputs declare with a fixed size."""
    fixed = []
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        for axis in axes.get(inp.name, {}):
            if axis < len(dims) and not dims[axis].dim_param:
                fixed.append(f"{inp.name} axis {axis} (= {dims[axis].dim_value})")
    return fixed
