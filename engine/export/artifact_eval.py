"""The metric of an ONNX file itself: run that file in onnxruntime over the validation split.

A quantized artifact's accuracy or perplexity must come from the file that ships, not
from the PyTorch model it was made from. The definitions are engine.train.loop.evaluate's
exactly (summed cross-entropy over samples, or over next-token positions with padding
ignored for causal LMs), so an fp32 file reads the same as the PyTorch evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from engine.export.runtime import feeds_for, make_session, ort_logits
from engine.train.forward import compute_loss

METRIC_TASKS = ("classification", "causal-lm")  # tasks whose validation split has a metric


def val_batches(
    val_dataset: Dataset, batch_size: int, max_batches: int | None = None
) -> Iterator[dict[str, Tensor]]:
    """The validation batches in evaluate's order (no shuffle), at most `max_batches`."""
    for i, batch in enumerate(DataLoader(val_dataset, batch_size=batch_size, shuffle=False)):
        if max_batches is not None and i >= max_batches:
            return
        yield batch


def batch_feeds(
    session: ort.InferenceSession, batch: Mapping[str, Tensor], input_names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The graph's inputs out of a data batch (an ids-only graph gets input_ids alone)."""
    named = {n: batch[n].detach().cpu().numpy() for n in input_names if n in batch}
    return feeds_for(session, named, input_names)


class MetricTally:
    """evaluate()'s running sums, fed one batch of logits at a time."""

    def __init__(self, task: str):
        if task not in METRIC_TASKS:
            raise ValueError(f"no validation metric for task {task!r}; expected one of {METRIC_TASKS}")
        self.task = task
        self.total_loss = 0.0
        self.n_items = 0
        self.correct = 0

    def add(self, logits: np.ndarray, batch: Mapping[str, Tensor]) -> None:
        """Add one batch: `logits` as the file produced them, `batch` as the loader gave it."""
        # per-batch float32 values summed in Python floats, exactly as evaluate() sums them
        out = torch.from_numpy(np.asarray(logits, dtype=np.float32))
        labels = batch["labels"]
        if self.task == "causal-lm":
            tokens = int(batch["attention_mask"][:, 1:].sum())
            self.total_loss += float(compute_loss(self.task, out, dict(batch))) * tokens
            self.n_items += tokens
        else:
            self.total_loss += float(F.cross_entropy(out, labels, reduction="sum"))
            self.correct += int((out.argmax(-1) == labels).sum())
            self.n_items += labels.numel()

    def result(self) -> dict[str, float]:
        """{"loss", "accuracy"} or {"loss", "perplexity"}; {} when no item was seen."""
        if self.n_items == 0:
            return {}
        loss = self.total_loss / self.n_items
        if self.task == "causal-lm":
            return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
        return {"loss": loss, "accuracy": self.correct / self.n_items}


def evaluate_onnx(
    path: str | Path,
    task: str,
    val_dataset: Dataset,
    input_names: Sequence[str],
    batch_size: int,
    max_batches: int | None = None,
    session: ort.InferenceSession | None = None,
) -> dict[str, float]:
    """Metrics of the ONNX file at `path` over the validation split, run in onnxruntime.

    Classification: {"loss", "accuracy"}; causal LM: {"loss", "perplexity"}; other tasks: {}.
    `session`, when given, is an open session on `path` (one session per file serves
    metric, agreement and latency: each start parses the file and holds its weights again).
    """
    if task not in METRIC_TASKS:
        return {}
    session = session or make_session(path)
    tally = MetricTally(task)
    for batch in val_batches(val_dataset, batch_size, max_batches):
        tally.add(ort_logits(session, batch_feeds(session, batch, input_names)), batch)
    return tally.result()


def onnx_evaluator(
    task: str, data: Any, input_names: Sequence[str], batch_size: int,
    max_batches: int | None = None,
) -> Callable[[Path], dict[str, float]] | None:
    """ArtifactContext.evaluate: path -> that file's validation metrics; None without data."""
    if data is None or task not in METRIC_TASKS:
        return None
    return lambda path: evaluate_onnx(path, task, data.val, input_names, batch_size, max_batches)


def numpy_feeds(input_names: Sequence[str], inputs: Sequence[Tensor]) -> dict[str, np.ndarray]:
    """Named numpy feeds from the tensors a model is called with (latency / example inputs)."""
    return {n: t.detach().cpu().numpy() for n, t in zip(input_names, inputs, strict=False)}
