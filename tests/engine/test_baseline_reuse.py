"""The baseline's evaluation and ONNX export are each reused whenever their own inputs match."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.baseline_keys import baseline_keys, file_fingerprint
from engine.events import Log, StageStarted
from engine.job import Job
from engine.recipe import DataSpec, ExportConfig, ModelSpec, TrainConfig
from engine.store import Workspace
from tests.engine.conftest import tiny_recipe

SHORT = TrainConfig(epochs=1, max_steps=1, batch_size=8, eval_every=100, log_every=1)


def _baseline_logs(recipe, ws: Path) -> tuple[list[str], object]:
    """Run a job; the log lines of its baseline stage (empty when the baseline was reused)."""
    events: list = []
    result = Job(recipe, [events.append], workspace=ws).run()
    assert result.ok, result.error
    lines, inside = [], False
    for e in events:
        if isinstance(e, StageStarted):
            inside = e.stage == "baseline"
        elif inside and isinstance(e, Log):
            lines.append(e.message)
    return lines, result


def _count(lines: list[str], prefix: str) -> int:
    return sum(1 for m in lines if m.startswith(prefix))


@pytest.mark.timeout(900)  # four real jobs, each exporting its own variant
def test_data_change_re_evaluates_but_reuses_the_export(tmp_path):
    first = tiny_recipe(train=SHORT)
    lines, r1 = _baseline_logs(first, tmp_path)
    assert _count(lines, "ONNX export: wrote") == 1
    assert _count(lines, "baseline: evaluated") == 1
    ws = Workspace(tmp_path)
    onnx1 = ws.run_dir(r1.parent_id) / "model.onnx"
    stamp = onnx1.stat().st_mtime_ns

    # nothing changed: the whole baseline is reused, no baseline stage at all
    lines, r2 = _baseline_logs(first.replace(name="same"), tmp_path)
    assert lines == [] and r2.parent_id == r1.parent_id

    # only the data changed: evaluated again, the ONNX files linked, not exported
    data = DataSpec(source="builtin", path="shakespeare", max_length=32, max_samples=120)
    lines, r3 = _baseline_logs(first.replace(name="new-data", data=data), tmp_path)
    assert r3.parent_id != r1.parent_id
    assert _count(lines, "ONNX export:") == 0, lines
    assert _count(lines, "baseline: evaluated") == 1
    card = ws.get(r3.parent_id).card
    assert card["baseline_reused"] == {"metrics": None, "onnx": r1.parent_id}
    onnx3 = ws.run_dir(r3.parent_id) / "model.onnx"
    assert os.path.samefile(onnx3, onnx1) and onnx1.stat().st_mtime_ns == stamp
    assert card["onnx"]["path"] == str(onnx3) and card["onnx"]["checker_ok"] is True
    assert card["metrics"] != ws.get(r1.parent_id).card["metrics"]  # other data, other numbers

    # only an export setting changed: exported again, the metrics reused
    export = ExportConfig(opset=17, parity_batches=1, latency_runs=4, latency_seq=32)  # latency_runs 3 -> 4
    lines, r4 = _baseline_logs(first.replace(name="new-export", export=export), tmp_path)
    assert _count(lines, "ONNX export: wrote") == 1
    assert _count(lines, "baseline: evaluated") == 0
    card4 = ws.get(r4.parent_id).card
    assert card4["baseline_reused"] == {"metrics": r1.parent_id, "onnx": None}
    assert card4["metrics"] == ws.get(r1.parent_id).card["metrics"]
    assert not os.path.samefile(ws.run_dir(r4.parent_id) / "model.onnx", onnx1)


def test_a_model_file_replaced_in_place_is_a_new_baseline(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x" * 10)
    spec = ModelSpec(source="safetensors", path=str(weights), architecture="tiny-gpt")
    recipe = tiny_recipe()
    before = baseline_keys(spec, recipe)
    assert baseline_keys(spec, recipe) == before  # stable while nothing changes
    os.utime(weights, ns=(1, 1))
    after = baseline_keys(spec, recipe)
    assert after.full != before.full and after.export != before.export
    # the trust flag is the user's, not the model's
    trusting = baseline_keys(ModelSpec(**{**spec.__dict__, "trust": True}), recipe)
    assert trusting == after
    assert file_fingerprint(tmp_path / "absent") == ""
