"""run_profile as a job part: its config validates like a recipe's, a cancel stops it, and an
ONNX file onnxruntime cannot read is reported without losing the rest of the profile."""

from __future__ import annotations

import pytest

from engine.analysis.profile import ProfileConfig, run_profile
from engine.config_fields import ConfigError
from engine.context import JobCancelled, JobContext, JobControl
from engine.events import Log, Progress

QUICK = ProfileConfig(runs=1, threads=1, seq=8, sweep_batches=(1,), sweep_seqs=(8,),
                      sweep_runs=1, energy_seconds=0.05)  # fmt: skip


@pytest.mark.parametrize(
    ("data", "path"),
    [({"batch": 0}, "profile.batch"), ({"sweep_batches": []}, "profile.sweep_batches"),
     ({"sweep_seqs": [8, 0]}, "profile.sweep_seqs"), ({"cpu_watts": 0}, "profile.cpu_watts"),
     ({"bogus": 1}, "profile.bogus")],
)  # fmt: skip
def test_profile_config_names_the_bad_field(data, path):
    with pytest.raises(ConfigError) as exc:
        ProfileConfig.from_dict(data)
    assert exc.value.errors[0].path == path
    assert ProfileConfig.from_dict({"sweep_batches": [2, 4]}).sweep_batches == (2, 4)


def _tiny():
    from engine.models.builtin import load_builtin

    return load_builtin("tiny-gpt", pretrained=False)


def test_a_cancelled_profile_stops_at_its_next_checkpoint():
    control = JobControl()
    control.cancel()
    with pytest.raises(JobCancelled):
        run_profile(_tiny(), QUICK, JobContext(lambda e: None, control))


def test_an_unreadable_onnx_file_is_logged_and_the_rest_is_measured(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx graph")
    events: list = []
    record = run_profile(_tiny(), QUICK, JobContext(events.append, JobControl()),
                         artifacts=[("onnx-int8", bad)])  # fmt: skip
    assert record["onnx"] == []
    assert {r["artifact"] for r in record["latency"]} == {"pytorch"}
    assert {e["artifact"] for e in record["energy"]} == {"pytorch"}
    warnings = [e.message for e in events if isinstance(e, Log)]
    assert any("onnx-int8" in w and "not profiled" in w for w in warnings)
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # one bar, forward only


def test_an_onnx_file_with_a_fixed_batch_is_skipped_where_it_cannot_run(tmp_path):
    import torch
    from torch import nn

    from engine.models.types import LoadedModel

    module = nn.Sequential(nn.Linear(8, 4)).eval()
    path = tmp_path / "fixed.onnx"
    torch.onnx.export(module, (torch.randn(1, 8),), str(path), input_names=["input"],
                      dynamo=False)  # no dynamic axes: batch 1 only
    loaded = LoadedModel(module=module, task="generic", input_names=("input",), tokenizer=None,
                         input_shape=(1, 8))  # fmt: skip
    events: list = []
    cfg = ProfileConfig(batch=2, runs=1, threads=1, sweep_runs=1, energy_seconds=0.05)
    record = run_profile(loaded, cfg, JobContext(events.append, JobControl()),
                         artifacts=[("onnx-fp32", path)])  # fmt: skip
    assert record["onnx"] == [] and record["settings"]["seq"] is None
    assert [e["artifact"] for e in record["energy"]] == ["pytorch"]
    # the latency curve runs a generic model at its example shape (batch 1): the file fits
    assert {r["artifact"] for r in record["latency"]} == {"pytorch", "onnx-fp32"}
    logs = " ".join(e.message for e in events if isinstance(e, Log))
    assert "onnx-fp32: not profiled" in logs and "onnx-fp32: no energy reading at batch 2" in logs
