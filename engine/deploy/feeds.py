"""Inputs for an ONNX file from its own declared inputs, for checks run without the model.

A check from the CLI has only the file: each input's declared shape gives the sizes, its
first symbolic axis is the batch and its second the sequence. Token ids are zeros (a valid
id in every vocabulary), masks are ones, floats are seeded noise: the timing and memory of
a forward do not depend on the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_NUMPY = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
}


def input_shape(dims: Sequence[Any], batch: int, seq: int) -> list[int]:
    """A declared shape made concrete: symbolic axes take batch, then seq, then 1."""
    fill, out = [batch, seq], []
    for d in dims:
        if isinstance(d, int) and d > 0:
            out.append(d)
        else:
            out.append(fill.pop(0) if fill else 1)
    return out


def synthetic_feeds(inputs: Sequence[Any], batch: int, seq: int) -> dict[str, np.ndarray]:
    """{name: array} for onnxruntime NodeArg-like inputs (.name, .shape, .type)."""
    rng = np.random.default_rng(0)
    feeds = {}
    for arg in inputs:
        shape = input_shape(arg.shape, batch, seq)
        dtype = _NUMPY.get(arg.type, np.float32)
        if np.issubdtype(dtype, np.floating):
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in arg.name.lower() or dtype is np.bool_:
            feeds[arg.name] = np.ones(shape, dtype=dtype)
        else:
            feeds[arg.name] = np.zeros(shape, dtype=dtype)
    return feeds
