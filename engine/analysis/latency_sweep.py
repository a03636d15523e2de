"""Latency and throughput over a batch x sequence grid: the PyTorch model against each ONNX file.

Every artifact is loaded first; then, for each cell of the grid, one forward of each is timed
per round, in a freshly shuffled order, round after round (as engine/export/side_by_side
times ONNX files), so a burst of load on the machine hits all of them alike and their curves
compare. onnxruntime sessions are made by side_by_side.timing_session (no spin-waiting) and
PyTorch runs with the same thread count (torch.set_num_threads, restored afterwards).

Inputs come from the model's own LoadedModel.example_inputs(batch, seq): token ids within
the vocabulary and an all-ones mask for text models (causal LM, classification); sequence
lengths past the model's max_positions are clamped to it, so the grid may shrink. A generic
model has no sequence axis and its exported file may fix its batch: it is timed only at its
example shape (model.input_shape), one row per artifact with seq None.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort
import torch
from torch import Tensor, nn

from engine.export.artifact_eval import numpy_feeds
from engine.export.runtime import describe_ort_error, eval_mode, feeds_for, module_device
from engine.export.side_by_side import percentiles, resolve_threads, timing_session
from engine.models.types import LoadedModel

PYTORCH = "pytorch"  # the artifact name of the PyTorch model in the records

Runner = nn.Module | LoadedModel | str | Path
Shape = tuple[int, int | None]


def _no_log(message: str) -> None:
    pass


@dataclass(frozen=True)
class SweepContext:
    """How to sweep. `loaded` makes the inputs (else the first LoadedModel among the
    runners); `threads` as side_by_side.resolve_threads; `warmup` runs per artifact and
    cell before timing; `log` hears skipped cells; `progress(fraction, text)` after each
    cell; `checkpoint()` is called between cells (raise there to cancel)."""

    loaded: LoadedModel | None = None
    threads: int | None = None
    warmup: int = 3
    log: Callable[[str], None] = _no_log
    progress: Callable[[float, str], None] | None = None
    checkpoint: Callable[[], None] | None = None


def sweep_shapes(loaded: LoadedModel, batches: Sequence[int], seqs: Sequence[int]) -> list[Shape]:
    """The (batch, seq) cells actually timed: text models every batch x seq with seq clamped
    to max_positions (duplicates dropped); a generic model its example shape only (seq None)."""
    if not loaded.is_text:
        shape = loaded.input_shape
        return [(int(shape[0]) if shape else 1, None)]
    cells: dict[Shape, None] = {}
    for b in batches:
        for s in seqs:
            if int(b) < 1 or int(s) < 1:
                raise ValueError(f"batch and seq must be at least 1, got batch {b} seq {s}")
            cells[(int(b), min(int(s), loaded.max_positions))] = None
    return list(cells)


def _inputs(loaded: LoadedModel, batch: int, seq: int | None) -> tuple[Tensor, ...]:
    if seq is None:  # generic: its example input as it is
        return loaded.example_inputs(batch=batch)
    return loaded.example_inputs(batch=batch, seq=seq)


def torch_call(module: nn.Module, inputs: Sequence[Tensor]) -> Callable[[], Any]:
    """One forward of `module` on `inputs` (moved to its device), no grad, synchronised on
    CUDA so the time covers the kernels and not only their launch."""
    device = module_device(module)
    args = tuple(t.to(device) for t in inputs)
    cuda = device.type == "cuda"

    def call() -> Any:
        with torch.no_grad():
            out = module(*args)
        if cuda:
            torch.cuda.synchronize(device)
        return out

    return call


def onnx_call(session: ort.InferenceSession, names: Sequence[str],
              inputs: Sequence[Tensor]) -> Callable[[], Any]:  # fmt: skip
    """One session.run on `inputs` (inputs the graph does not take are dropped)."""
    feeds = feeds_for(session, numpy_feeds(names, inputs), list(names))
    return lambda: session.run(None, feeds)


def interleaved_rounds(calls: Mapping[str, Callable[[], Any]], runs: int,
                       warmup: int = 3, seed: int = 0) -> dict[str, list[float]]:  # fmt: skip
    """{name: [ms per round]}: each call once per round in a shuffled (seeded) order, after
    `warmup` untimed rounds; every call sees the same stretch of machine load."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    names = list(calls)
    for _ in range(max(0, warmup)):
        for n in names:
            calls[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    order, rng = list(names), random.Random(seed)
    for _ in range(runs):
        rng.shuffle(order)
        for n in order:
            start = time.perf_counter()
            calls[n]()
            times[n].append((time.perf_counter() - start) * 1000.0)
    return times


def _source(runners: Mapping[str, Runner], ctx: SweepContext) -> LoadedModel:
    if ctx.loaded is not None:
        return ctx.loaded
    for r in runners.values():
        if isinstance(r, LoadedModel):
            return r
    raise ValueError("latency_sweep needs a LoadedModel to make inputs: pass one as a runner "
                     "or as SweepContext(loaded=...)")  # fmt: skip


def _open(runners: Mapping[str, Runner], threads: int, log: Callable[[str], None]) -> dict[str, Any]:
    """name -> nn.Module or an open timing session; files that will not load are logged."""
    opened: dict[str, Any] = {}
    for name, r in runners.items():
        if isinstance(r, LoadedModel):
            opened[name] = r.module
        elif isinstance(r, nn.Module):
            opened[name] = r
        else:
            try:
                opened[name] = timing_session(r, threads=threads)
            except Exception as exc:  # one bad file must not lose the others' curves
                log(f"{name}: not timed, onnxruntime cannot load {r}: {describe_ort_error(exc)}")
    return opened


def _cell_calls(opened: Mapping[str, Any], names: Sequence[str], inputs: tuple[Tensor, ...],
                log: Callable[[str], None], cell: str) -> dict[str, Callable[[], Any]]:  # fmt: skip
    """The calls for one cell, each run once here: an artifact that fails at this shape
    (an export with a fixed axis) is logged and left out of this cell only."""
    calls = {}
    for name, r in opened.items():
        call = torch_call(r, inputs) if isinstance(r, nn.Module) else onnx_call(r, names, inputs)
        try:
            call()
        except Exception as exc:
            log(f"{name}: not timed at {cell}: {describe_ort_error(exc)}")
            continue
        calls[name] = call
    return calls


def latency_sweep(
    runners: Mapping[str, Runner],
    batches: Sequence[int],
    seqs: Sequence[int],
    runs: int = 20,
    ctx: SweepContext | None = None,
) -> list[dict[str, Any]]:
    """p50/p95 latency and throughput per artifact per (batch, seq): the profile's "latency" rows.

    `runners`: {artifact name: PyTorch nn.Module or LoadedModel, or an ONNX file path}, e.g.
    {"pytorch": loaded, "onnx-fp32": "model.onnx", "onnx-int8": "model.int8.onnx"}.
    Text models run every batch x seq cell (sweep_shapes); generic models only their example
    shape. Each cell times `runs` interleaved rounds (interleaved_rounds). Returns one dict
    per artifact and cell: {"artifact", "batch", "seq", "p50_ms", "p95_ms", "samples_per_s"}
    with samples/s = batch / p50; an artifact that fails at a cell is logged, not returned.
    """
    if runs < 1:  # before any file is loaded
        raise ValueError(f"runs must be at least 1, got {runs}")
    ctx = ctx or SweepContext()
    source = _source(runners, ctx)
    shapes = sweep_shapes(source, batches, seqs)
    if not source.is_text:
        ctx.log("generic model: timed at its example shape only (model.input_shape)")
    threads = resolve_threads(ctx.threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows: list[dict[str, Any]] = []
    try:
        opened = _open(runners, threads, ctx.log)
        with ExitStack() as stack:
            for r in opened.values():
                if isinstance(r, nn.Module):
                    stack.enter_context(eval_mode(r))
            for i, (batch, seq) in enumerate(shapes):
                if ctx.checkpoint is not None:
                    ctx.checkpoint()
                cell = f"batch {batch} x seq {seq}" if seq is not None else f"batch {batch}"
                inputs = _inputs(source, batch, seq)
                calls = _cell_calls(opened, source.input_names, inputs, ctx.log, cell)
                rounds = interleaved_rounds(calls, runs, warmup=ctx.warmup)
                rows.extend(_row(name, batch, seq, t) for name, t in rounds.items())
                if ctx.progress is not None:
                    ctx.progress((i + 1) / len(shapes), f"latency {cell}")
    finally:
        torch.set_num_threads(before)
    return rows


def _row(name: str, batch: int, seq: int | None, times_ms: list[float]) -> dict[str, Any]:
    p50, p95 = percentiles(times_ms)
    return {"artifact": name, "batch": batch, "seq": seq, "p50_ms": p50, "p95_ms": p95,
            "samples_per_s": batch / (p50 / 1000.0) if p50 > 0 else float("inf")}  # fmt: skip

