"""onnxruntime's profiler on a tiny exported Llama: per-node times that add up and name real ops."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest

from engine.analysis.profile_onnx import model_feeds, node_sum_ms, parse_trace, profile_onnx
from tests.engine.analysis.conftest import exported_tiny_llama


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(path of the exported tiny Llama, its LoadedModel)."""
    loaded, path = exported_tiny_llama(tmp_path_factory.mktemp("prof"), max_positions=64)
    return path, loaded


@pytest.fixture(scope="module")
def entry(tiny):
    path, loaded = tiny
    return profile_onnx(path, model_feeds(loaded, batch=2, seq=16), runs=5, threads=1, top=5)


def test_node_times_add_up_under_the_whole_run(entry):
    total = node_sum_ms(entry)
    assert total > 0
    # nodes run one after another inside model_run: their sum cannot exceed it (small slack
    # for the profiler's microsecond rounding), and on a model of real work covers most of it
    assert total <= entry["whole_ms"] * 1.05
    assert total >= entry["whole_ms"] * 0.3
    assert len(entry["nodes"]) == 5
    times = [n["time_ms"] for n in entry["nodes"]]
    assert times == sorted(times, reverse=True)


def test_ops_named_are_the_ops_of_the_graph_that_ran(tiny, entry, tmp_path):
    path, _ = tiny
    # the graph onnxruntime ran is the optimized one: write it out at the same level
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ran = {n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node}
    profiled = {row["op"] for row in entry["op_types"]}
    assert profiled <= ran
    assert "MatMul" in profiled or "FusedMatMul" in profiled
    names = {n.name for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node}
    assert {n["name"] for n in entry["nodes"]} <= names
    assert entry["path"] == str(path) and entry["artifact"] == "llama"


def test_warmup_runs_are_left_out_of_the_means():
    def run(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def node(ts, dur):
        return {"cat": "Node", "name": "mm_kernel_time", "ts": ts, "dur": dur,
                "args": {"op_name": "MatMul"}}  # fmt: skip

    # a slow first (warm-up) run, then two runs of 100 us with a 60 us node
    events = [run(0, 5000), node(10, 4000), run(6000, 100), node(6010, 60),
              run(7000, 100), node(7010, 60)]  # fmt: skip
    parsed = parse_trace(events, skip_runs=1)
    assert parsed["runs"] == 2
    assert parsed["whole_ms"] == pytest.approx(0.1)
    assert parsed["nodes"] == [{"name": "mm", "op": "MatMul", "time_ms": pytest.approx(0.06)}]
    assert parsed["op_types"] == [{"op": "MatMul", "time_ms": pytest.approx(0.06), "count": 1}]
    with pytest.raises(ValueError, match="none after 3 warm-up runs"):
        parse_trace(events, skip_runs=3)
