"""Where an ONNX file's time goes: onnxruntime's own profiler, per node and per operator type.

ORT writes a Chrome-trace JSON when SessionOptions.enable_profiling is on: one "model_run"
event per session.run and one "<node>_kernel_time" event per node executed, each with its
duration in microseconds and the node's op_name. The warm-up runs are in the trace too, so
node events are assigned to the run whose time window holds them and only the timed runs
count. Times are means over those runs, so the per-op times add up to the mean per-run sum
of node times, which sits a little under whole_ms (the run's own overhead: input binding,
memory planning, output copies).

Names are the optimized graph's: onnxruntime fuses nodes before running them (a Gemm and
its Relu run as one "FusedGemm" node named "fused /0/Gemm"), so the ops listed are the ops
that ran, which is what the time belongs to. On the CUDA execution provider a node's time
is its launch on the host, not the kernel; the whole-run time is still true.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from torch import Tensor

from engine.export.artifact_eval import numpy_feeds
from engine.export.runtime import feeds_for, ort_providers
from engine.export.side_by_side import resolve_threads

TOP_NODES = 20  # nodes kept in the record, slowest first: enough to name every hot spot
KERNEL_SUFFIX = "_kernel_time"

Feeds = Mapping[str, np.ndarray]


def profiling_session(path: str | Path, threads: int, prefix: str) -> ort.InferenceSession:
    """A session as the timing code makes them (full optimizations, no spin-waiting, same
    providers: engine/export/side_by_side.timing_session) with ORT's profiler on."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.intra_op_num_threads = int(threads)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.enable_profiling = True
    opts.profile_file_prefix = prefix
    return ort.InferenceSession(str(path), sess_options=opts, providers=ort_providers())


def model_feeds(loaded: Any, batch: int = 1, seq: int = 16) -> dict[str, np.ndarray]:
    """Named numpy inputs for an exported model from its LoadedModel's example inputs
    (the same inputs export and latency use; the session drops any its graph does not take)."""
    return numpy_feeds(loaded.input_names, loaded.example_inputs(batch=batch, seq=seq))


def _as_feeds(feeds: Feeds | Sequence[Tensor], names: Sequence[str] | None) -> dict[str, np.ndarray]:
    if isinstance(feeds, Mapping):
        return {k: np.asarray(v) for k, v in feeds.items()}
    if names is None:
        raise ValueError("input tensors given without input_names: pass a {name: array} mapping")
    return numpy_feeds(names, feeds)


def parse_trace(events: Sequence[Mapping[str, Any]], skip_runs: int = 0) -> dict[str, Any]:
    """Per-run totals and per-node means (ms) from ORT trace events, the first `skip_runs`
    runs (warm-up) left out: {"runs", "whole_ms", "op_types", "nodes"}.

    op_types and nodes are sorted slowest first; each node time is its mean over the kept
    runs, each op type the sum of its nodes (count = nodes of that type in one run).
    """
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    kept = runs[skip_runs:]
    if not kept:
        raise ValueError(f"trace holds {len(runs)} runs, none after {skip_runs} warm-up runs")
    windows = [(int(r["ts"]), int(r["ts"]) + int(r["dur"])) for r in kept]
    node_us: dict[str, float] = {}
    node_op: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(KERNEL_SUFFIX):
            continue
        ts = int(e["ts"])
        if not any(lo <= ts <= hi for lo, hi in windows):
            continue  # a warm-up run's node
        name = str(e["name"])[: -len(KERNEL_SUFFIX)]
        node_us[name] = node_us.get(name, 0.0) + float(e["dur"])
        node_op[name] = str((e.get("args") or {}).get("op_name", "?"))
    n = len(kept)
    nodes = sorted(({"name": k, "op": node_op[k], "time_ms": v / n / 1000.0}
                    for k, v in node_us.items()), key=lambda r: -r["time_ms"])  # fmt: skip
    ops: dict[str, dict[str, Any]] = {}
    for node in nodes:
        row = ops.setdefault(node["op"], {"op": node["op"], "time_ms": 0.0, "count": 0})
        row["time_ms"] += node["time_ms"]
        row["count"] += 1
    whole = float(np.mean([float(r["dur"]) for r in kept])) / 1000.0
    return {"runs": n, "whole_ms": whole,
            "op_types": sorted(ops.values(), key=lambda r: -r["time_ms"]), "nodes": nodes}


def profile_onnx(
    path: str | Path,
    feeds: Feeds | Sequence[Tensor],
    runs: int = 20,
    threads: int | None = None,
    *,
    warmup: int = 3,
    top: int = TOP_NODES,
    artifact: str | None = None,
    input_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Profile one ONNX file in onnxruntime: the profile record's "onnx" entry.

    `feeds`: {input name: numpy array} (model_feeds(loaded, batch, seq) makes them from a
    LoadedModel), or the model's input tensors with `input_names`; inputs the graph does not
    take are dropped. Runs `warmup` + `runs` times with `threads` intra-op threads
    (side_by_side.resolve_threads when None). Returns {"artifact", "path", "whole_ms",
    "op_types": [{"op", "time_ms", "count"}], "nodes": [{"name", "op", "time_ms"}]} with
    the `top` slowest nodes; every time is a mean per run in milliseconds over the timed
    runs, whole_ms the mean of ORT's own model_run durations over the same runs.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    with tempfile.TemporaryDirectory(prefix="ort-profile-") as tmp:
        session = profiling_session(path, resolve_threads(threads), os.path.join(tmp, "ort"))
        named = _as_feeds(feeds, input_names)
        run_feeds = feeds_for(session, named, list(named))
        for _ in range(max(0, warmup) + runs):
            session.run(None, run_feeds)
        trace = Path(session.end_profiling())
        events = json.loads(trace.read_text())
    parsed = parse_trace(events, skip_runs=max(0, warmup))
    return {"artifact": artifact or Path(path).stem, "path": str(path),
            "whole_ms": parsed["whole_ms"], "op_types": parsed["op_types"],
            "nodes": parsed["nodes"][: max(0, top)]}  # fmt: skip


def node_sum_ms(entry: Mapping[str, Any]) -> float:
    """The mean per-run sum of node times of an "onnx" entry (its op_types hold every node,
    its nodes only the top ones): compare with entry["whole_ms"]."""
    return float(sum(row["time_ms"] for row in entry["op_types"]))
