"""Calibration samples for static int8: drawn from the training split only, fed as the graph
expects them (its own input names and integer types), counted as they are read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

FEED_BATCH = 8  # samples per calibration batch: small enough for any model's memory

# onnx.TensorProto element types (INT64, INT32, FLOAT, BOOL): onnx itself is imported only
# when a graph is read, because registry discovery imports this module and onnx is slow to load
_ONNX_TO_NUMPY = {7: np.int64, 6: np.int32, 1: np.float32, 9: np.bool_}


def graph_input_types(onnx_path: str | Path) -> dict[str, Any]:
    """Input name -> numpy dtype, read from the graph only (weights stay on disk)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    return {
        i.name: _ONNX_TO_NUMPY.get(i.type.tensor_type.elem_type, np.int64)
        for i in model.graph.input
        if i.name not in inits
    }


def draw_indices(n_train: int, count: int, seed: int) -> torch.Tensor:
    """`count` distinct training-sample indices (all of them when there are fewer), seeded."""
    order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))
    return order[:count]


def feeds_from_items(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, types: dict[str, Any]
) -> dict[str, np.ndarray]:
    """One feed dict with exactly the graph's inputs (an ids-only model gets ids only).

    token_type_ids / position-free extras a tokenizer would add are zeros of the ids' shape.
    """
    feeds: dict[str, np.ndarray] = {}
    for name, dtype in types.items():
        if name == "input_ids":
            value = input_ids
        elif name == "attention_mask":
            value = attention_mask
        elif name == "position_ids":
            value = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        else:
            value = torch.zeros_like(input_ids)
        feeds[name] = value.cpu().numpy().astype(dtype)
    return feeds


def calibration_batches(
    train: Any, indices: torch.Tensor, types: dict[str, Any], batch: int = FEED_BATCH,
    even: bool = False,
) -> list[dict[str, np.ndarray]]:  # fmt: skip
    """The drawn training samples as feed dicts of up to `batch` samples each; `even`: all
    of one size (the largest that divides the count), because onnxruntime's histogram
    calibrators (entropy, percentile) stack every batch's outputs into one array and fail
    on a short last batch."""
    if even and len(indices):
        batch = next(b for b in range(min(batch, len(indices)), 0, -1) if len(indices) % b == 0)
    out = []
    for start in range(0, len(indices), batch):
        idx = indices[start : start + batch]
        out.append(feeds_from_items(train.input_ids[idx], train.attention_mask[idx], types))
    return out


def _rows(feeds: dict[str, np.ndarray]) -> int:
    return int(next(iter(feeds.values())).shape[0]) if feeds else 0


class CountingReader:
    """Hands onnxruntime the calibration batches once, counting what it actually read.

    onnxruntime's CalibrationDataReader accepts any class with get_next (its
    __subclasshook__), so this needs no onnxruntime import at discovery time.
    """

    def __init__(
        self, batches: list[dict[str, np.ndarray]], on_read: Callable[[int, int], None] | None = None
    ):
        self.batches = batches
        self.position = 0
        self.samples_fed = 0  # samples handed out since the last rewind
        self.total_samples = sum(_rows(b) for b in batches)
        # on_read(samples_fed, total_samples) after each batch onnxruntime pulls, and (0, total)
        # on rewind: the live calibration progress
        self.on_read = on_read

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= len(self.batches):
            return None
        feeds = self.batches[self.position]
        self.position += 1
        self.samples_fed += _rows(feeds)
        if self.on_read is not None:
            self.on_read(self.samples_fed, self.total_samples)
        return feeds

    def rewind(self) -> None:
        self.position = 0
        self.samples_fed = 0
        if self.on_read is not None:
            self.on_read(0, self.total_samples)

    def __len__(self) -> int:
        return len(self.batches)


def calibration_reader(
    data: Any, onnx_path: str | Path, count: int, seed: int,
    on_read: Callable[[int, int], None] | None = None, even: bool = False,
) -> tuple[CountingReader, torch.Tensor]:  # fmt: skip
    """(reader over `count` training samples, their indices into data.train); `on_read`
    hears (samples read, total) as onnxruntime pulls batches (see CountingReader); `even`
    as in calibration_batches."""
    indices = draw_indices(len(data.train), count, seed)
    types = graph_input_types(onnx_path)
    batches = calibration_batches(data.train, indices, types, even=even)
    return CountingReader(batches, on_read), indices


def sample_feeds(
    data: Any, example_feeds: dict[str, Any] | None, onnx_path: str | Path, count: int, seed: int
) -> list[dict[str, np.ndarray]]:
    """A few batches to measure per-node error on: training samples (never val) when the
    recipe has data, else the one example batch, restricted to the graph's inputs."""
    types = graph_input_types(onnx_path)
    if data is not None and len(data.train):
        return calibration_batches(data.train, draw_indices(len(data.train), count, seed), types)
    if example_feeds:
        return [{k: np.asarray(v).astype(types[k]) for k, v in example_feeds.items() if k in types}]
    return []
