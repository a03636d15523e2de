"""One pass over the inputs for every deployable file: metric and agreement together.

Each batch runs once through the fp32 file and once through each artifact; the fp32
output is compared with each artifact's right away and dropped, so no output is kept
across batches (an LM's logits are batch x seq x vocab) and no file runs a batch twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.export.agreement import AgreementTally
from engine.export.artifact_eval import METRIC_TASKS, MetricTally, batch_feeds, val_batches
from engine.export.runtime import describe_ort_error, feeds_for, ort_logits


@dataclass
class MeasuredFile:
    """One file on its way to a card entry: its session while measuring, then its numbers."""

    kind: str
    path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    session: ort.InferenceSession | None = None
    error: str = ""  # why it could not be loaded or run ("" when fine)
    metric: MetricTally | None = None
    agree: AgreementTally = field(default_factory=AgreementTally)
    checker: tuple[bool, str] = (False, "not run (export.check is off)")
    latency: tuple[float, float] | None = None  # (p50, p95) ms
    rounds: list[float] = field(default_factory=list)  # ms per side-by-side round


def run_output(f: MeasuredFile, feeds: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The file's output on named feeds; a failure marks the file and drops its session."""
    try:
        return ort_logits(f.session, feeds_for(f.session, feeds, list(feeds)))
    except Exception as exc:  # onnxruntime raises plain Exceptions
        f.error, f.session = f"onnxruntime failed to run it: {describe_ort_error(exc)}", None
        return None


def _inputs(files: list[MeasuredFile], task: str, data: Any, input_names: Sequence[str],
            feeds_batches: Sequence[Mapping[str, np.ndarray]], batch_size: int,
            max_batches: int | None) -> tuple[Iterator[tuple[Any, Any]], int]:
    """(feeds, data batch or None) pairs and how many: validation batches, else the given feeds."""
    if data is None or task not in METRIC_TASKS:
        return ((feeds, None) for feeds in feeds_batches), len(feeds_batches)
    for f in files:
        f.metric = MetricTally(task)
    total = math.ceil(len(data.val) / batch_size)
    total = total if max_batches is None else min(total, max_batches)
    ref = files[0].session
    pairs = ((batch_feeds(ref, b, input_names), b) for b in val_batches(data.val, batch_size, max_batches))
    return pairs, total


def _add(f: MeasuredFile, ref: np.ndarray, got: np.ndarray, batch: Any, mask: Any) -> None:
    if batch is not None:
        f.metric.add(got, batch)
    try:
        f.agree.add(ref, got, mask)
    except ValueError as exc:  # another output shape: the file computes something else
        f.error, f.session = str(exc), None


def one_pass(
    files: list[MeasuredFile], task: str, data: Any, input_names: Sequence[str],
    feeds_batches: Sequence[Mapping[str, np.ndarray]], batch_size: int,
    max_batches: int | None = None,
    progress: Callable[[float, str], None] = lambda fraction, message: None,
    checkpoint: Callable[[], None] = lambda: None,
) -> int:
    """files[0] is the fp32 reference; metric (with data) and agreement for all. Batches seen."""
    ref_file = files[0]
    pairs, total = _inputs(files, task, data, input_names, feeds_batches, batch_size, max_batches)
    seen = 0
    for feeds, batch in pairs:
        checkpoint()  # a cancelled job stops between batches
        progress(seen / max(total, 1), f"measuring artifacts: batch {seen + 1}/{total}")
        ref = run_output(ref_file, feeds)
        if ref is None:
            raise ValueError(f"the fp32 file {ref_file.path.name}: {ref_file.error}")
        # the data's own mask even when the graph takes ids only: padding is never compared
        mask = batch["attention_mask"].numpy() if batch is not None else feeds.get("attention_mask")
        if batch is not None:
            ref_file.metric.add(ref, batch)
        for f in files[1:]:
            got = run_output(f, feeds) if f.session is not None else None
            if got is not None:
                _add(f, ref, got, batch, mask)
        seen += 1
    return seen
