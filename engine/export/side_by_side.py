"""Latency of several ONNX files timed side by side: loaded together, run interleaved.

Two files timed minutes apart differ by whatever else the machine was doing meanwhile
(a demo card once showed a child at 0.57x its parent's speed, and it was noise). Loading
every file first and then timing one run of each in turn, round after round, exposes all
of them to the same load, so their ratio holds even when the absolute numbers drift.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.export.runtime import feeds_for, ort_providers

MAX_DEFAULT_THREADS = 8  # more intra-op threads rarely help one inference and add noise


def resolve_threads(threads: int | None = None) -> int:
    """The intra-op thread count to time with: `threads`, else the usable cores (at most 8).

    Always a number, so the card can state it: ORT's own default depends on the machine.
    """
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        return int(threads)
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may use (containers)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_THREADS))


def timing_session(
    path: str | Path, threads: int | None = None, *, quiet: bool = True
) -> ort.InferenceSession:
    """runtime.make_session's session (full optimizations, same providers) without spin-waiting.

    ORT's intra-op threads spin after each run by default. With several sessions loaded
    together, the pools of the files just run keep spinning while the next file runs and
    take its cores: measured on 2 cores with three copies of one tiny-bert file at 2 threads,
    one copy read 13.5 ms and the others 1.6 ms; without spinning all three read 1.3-1.4 ms,
    and at 8 x 64 the files read 46-72 ms spinning against 10 ms not. So every session that
    is timed side by side sleeps when idle.
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 4 if quiet else 3
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=ort_providers())


def time_rounds(
    paths: Mapping[str, str | Path],
    feeds: Mapping[str, np.ndarray],
    runs: int = 30,
    warmup: int = 5,
    threads: int | None = None,
    *,
    sessions: Mapping[str, ort.InferenceSession] | None = None,
) -> dict[str, list[float]]:
    """{name: [ms of round 1, round 2, ...]}: every file run once per round, interleaved.

    Each round runs the files in a freshly shuffled order (seeded): a fixed order would
    let periodic interference (another process's time slice) land on the same file every
    round. `threads` (resolve_threads when None) sets the sessions opened here
    (timing_session: no spin-waiting); `sessions` may hold already-open ones by name, made
    the same way with the same count.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    count = resolve_threads(threads)
    open_ = dict(sessions or {})
    for name, path in paths.items():
        if name not in open_:
            open_[name] = timing_session(path, threads=count, quiet=False)
    names = list(paths)
    named = {n: feeds_for(open_[n], feeds, list(feeds)) for n in names}
    for _ in range(max(0, warmup)):
        for n in names:
            open_[n].run(None, named[n])
    times: dict[str, list[float]] = {n: [] for n in names}
    order, rng = list(names), random.Random(0)
    for _ in range(runs if names else 0):
        rng.shuffle(order)
        for n in order:
            start = time.perf_counter()
            open_[n].run(None, named[n])
            times[n].append((time.perf_counter() - start) * 1000.0)
    return times


def percentiles(times_ms: list[float]) -> tuple[float, float]:
    """(p50, p95) of one file's round times."""
    p50, p95 = np.percentile(times_ms, [50, 95])
    return float(p50), float(p95)


def paired_speedup(ref_ms: list[float], ms: list[float]) -> float:
    """How many times faster than the reference: the median over rounds of ref / this.

    Both files ran within the same round, milliseconds apart, so each round's ratio sees
    one machine state; its median shrugs off rounds where a burst of load hit one of them
    (a ratio of two p50s mixes different rounds' loads).
    """
    return float(np.median(np.asarray(ref_ms) / np.asarray(ms)))


def time_side_by_side(
    paths: Mapping[str, str | Path],
    feeds: Mapping[str, np.ndarray],
    runs: int = 30,
    warmup: int = 5,
    threads: int | None = None,
    *,
    sessions: Mapping[str, ort.InferenceSession] | None = None,
) -> dict[str, tuple[float, float]]:
    """{name: (p50 ms, p95 ms)} for each file, all loaded at once and timed interleaved
    (time_rounds; paired_speedup on its rounds gives the most robust ratio)."""
    times = time_rounds(paths, feeds, runs, warmup, threads, sessions=sessions)
    return {n: percentiles(t) for n, t in times.items()}
