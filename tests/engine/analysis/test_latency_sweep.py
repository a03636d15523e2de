"""The batch x sequence sweep: one row per artifact per cell, PyTorch against ONNX files."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.analysis.latency_sweep import (
    SweepContext,
    interleaved_rounds,
    latency_sweep,
    sweep_shapes,
)
from engine.export.onnx_export import export_onnx_detailed
from engine.models.types import LoadedModel
from tests.engine.analysis.conftest import exported_tiny_llama


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return exported_tiny_llama(tmp_path_factory.mktemp("sweep"), max_positions=32)


def test_one_row_per_artifact_and_cell_with_p50_at_most_p95(llama, tmp_path):
    loaded, path = llama
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file")
    logged: list[str] = []
    seen: list[float] = []
    ctx = SweepContext(threads=1, warmup=1, log=logged.append,
                       progress=lambda f, text: seen.append(f))  # fmt: skip
    rows = latency_sweep({"pytorch": loaded, "onnx-fp32": path, "bad": broken},
                         batches=[1, 2], seqs=[8, 100], runs=3, ctx=ctx)  # fmt: skip
    # seq 100 is past max_positions 32: clamped, so the grid is 2 x {8, 32}
    cells = {(r["artifact"], r["batch"], r["seq"]) for r in rows}
    assert cells == {(a, b, s) for a in ("pytorch", "onnx-fp32") for b in (1, 2) for s in (8, 32)}
    assert len(rows) == 8
    for r in rows:
        assert 0 < r["p50_ms"] <= r["p95_ms"]
        assert r["samples_per_s"] == pytest.approx(r["batch"] * 1000.0 / r["p50_ms"])
    assert any("bad: not timed" in line for line in logged)
    assert seen[-1] == pytest.approx(1.0) and len(seen) == 4
    assert torch.get_num_threads() >= 1 and loaded.module.training is False


def test_generic_model_is_timed_at_its_example_shape_only(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).train()
    path = tmp_path / "mlp.onnx"
    export_onnx_detailed(net, (torch.randn(3, 16),), ["input"], path, exporter="torchscript")
    loaded = LoadedModel(net, "generic", ("input",), None, input_shape=(3, 16))
    logged: list[str] = []
    rows = latency_sweep({"pytorch": net, "onnx": path}, [1, 8], [16, 64], runs=3,
                         ctx=SweepContext(loaded=loaded, threads=1, log=logged.append))  # fmt: skip
    assert [(r["artifact"], r["batch"], r["seq"]) for r in rows] in (
        [("pytorch", 3, None), ("onnx", 3, None)], [("onnx", 3, None), ("pytorch", 3, None)])
    assert any("example shape only" in line for line in logged)
    assert net.training  # the module's own mode is restored after the sweep


def test_shapes_and_rounds_refuse_bad_values(llama):
    loaded, _ = llama
    assert sweep_shapes(loaded, [4], [16, 64, 128]) == [(4, 16), (4, 32)]
    with pytest.raises(ValueError, match="batch and seq must be at least 1"):
        sweep_shapes(loaded, [0], [16])
    with pytest.raises(ValueError, match="runs must be at least 1"):
        interleaved_rounds({"a": lambda: None}, runs=0)
    with pytest.raises(ValueError, match="runs must be at least 1"):
        latency_sweep({"pytorch": loaded}, [1], [8], runs=0)
    with pytest.raises(ValueError, match="needs a LoadedModel"):
        latency_sweep({"onnx": "x.onnx"}, [1], [8], runs=1)


def test_interleaved_rounds_time_each_call_once_per_round():
    counts = {"a": 0, "b": 0}

    def bump(name):
        def call():
            counts[name] += 1
        return call

    times = interleaved_rounds({"a": bump("a"), "b": bump("b")}, runs=5, warmup=2)
    assert counts == {"a": 7, "b": 7}
    assert [len(t) for t in times.values()] == [5, 5]
