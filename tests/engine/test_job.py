"""Job end to end on a tiny real model: events, card, workspace, cancel, pause."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from engine.events import Cancelled, LayerStats, Metric, Progress, StageStarted
from engine.job import Job
from engine.recipe import ExportConfig, ModelSpec, TrainConfig
from engine.store import Workspace
from tests.engine.conftest import tiny_recipe


def test_card_reports_sparsity_onnx_and_metric(finished_job):
    ws_path, result, _ = finished_job
    card = result.card
    assert card["sparsity"]["overall"] == pytest.approx(0.5, abs=0.01)
    assert all(v == pytest.approx(0.5, abs=0.2) for v in card["sparsity"]["layers"].values())
    assert card["model"]["nonzero_params"] < card["model"]["params"]
    assert Path(card["onnx"]["path"]).is_file()
    assert card["onnx"]["size_bytes"] == Path(card["onnx"]["path"]).stat().st_size
    assert card["onnx"]["max_abs_diff"] < 1e-3
    assert card["onnx"]["checker_ok"] is True
    assert card["onnx"]["latency_ms_p50"] > 0
    assert 1.0 < card["metrics"]["perplexity"] < 300  # a byte LM: better than uniform (258)


def test_parent_is_the_baseline_variant(finished_job):
    ws_path, result, _ = finished_job
    ws = Workspace(ws_path)
    parent = ws.get(result.parent_id)
    assert parent.status == "finished"
    assert parent.card["method"] == "none"
    assert parent.card["sparsity"]["overall"] == 0.0
    assert ws.get(result.run_id).parent == parent.id
    assert parent.card["onnx"]["latency_ms_p50"] > 0


def test_events_tell_the_whole_story(finished_job):
    _, _, events = finished_job
    stages = [e.stage for e in events if isinstance(e, StageStarted)]
    for s in ("load", "baseline", "methods", "train", "save", "export"):
        assert s in stages
    losses = [e for e in events if isinstance(e, Metric) and e.name == "train/loss"]
    assert [m.step for m in losses] == [2, 4, 6, 8]
    assert any(isinstance(e, Metric) and e.name == "val/perplexity" for e in events)
    layer_events = [e for e in events if isinstance(e, LayerStats)]
    assert layer_events and all(0.4 < v < 0.6 for v in layer_events[-1].values.values()) is not None
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions[-1] == 1.0
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:], strict=False))


def test_run_folder_holds_the_artifacts(finished_job):
    ws_path, result, _ = finished_job
    folder = Workspace(ws_path).run_dir(result.run_id)
    for name in ("recipe.yaml", "metrics.jsonl", "report.json", "model.onnx", "anatomy.json"):
        assert (folder / name).is_file(), name
    assert (folder / "checkpoint").is_dir()
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert any(x["name"] == "train/loss" for x in lines if x["event"] == "Metric")
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*tmp"))


def test_second_job_reuses_baseline_and_chains_from_variant(finished_job):
    ws_path, result, _ = finished_job
    again = Job(tiny_recipe(name="again"), workspace=ws_path).run()
    assert again.ok and again.parent_id == result.parent_id
    child = Job(
        tiny_recipe(name="child", model=ModelSpec(source="variant", path="tiny-prune"), methods=(),
                    train=TrainConfig(epochs=0), export=ExportConfig(enabled=False)),
        workspace=ws_path,
    ).run()
    assert child.ok, child.error
    assert child.parent_id == result.run_id
    # without training, the pruned zeros survive the checkpoint round trip
    assert child.card["model"]["nonzero_params"] < child.card["model"]["params"]


def _run_in_thread(job):
    box = []
    t = threading.Thread(target=lambda: box.append(job.run()))
    t.start()
    return t, box


def test_cancel_mid_training_is_recorded_as_cancelled(tmp_path):
    steps = []
    job = Job(tiny_recipe(train=TrainConfig(max_steps=200, batch_size=8, log_every=1, eval_every=1000),
                          export=ExportConfig(enabled=False)),
              [lambda e: steps.append(e.step) if isinstance(e, Metric) and e.name == "train/loss" else None],
              workspace=tmp_path)
    t, box = _run_in_thread(job)
    deadline = time.time() + 120
    while len(steps) < 3 and time.time() < deadline:
        time.sleep(0.05)
    job.cancel()
    t.join(60)
    result = box[0]
    assert result.status == "cancelled"
    v = Workspace(tmp_path).get(result.run_id)
    assert v.status == "cancelled"
    assert not (Workspace(tmp_path).run_dir(v.id) / "report.json").exists()
    assert not (Workspace(tmp_path).run_dir(v.id) / "model.onnx").exists()
    assert max(steps) < 200


def test_pause_stops_steps_and_resume_finishes(tmp_path):
    steps = []
    events = []
    cfg = TrainConfig(max_steps=12, batch_size=8, log_every=1, eval_every=1000)
    job = Job(tiny_recipe(train=cfg, export=ExportConfig(enabled=False)),
              [lambda e: steps.append(e.step) if isinstance(e, Metric) and e.name == "train/loss" else None,
               events.append],
              workspace=tmp_path)
    t, box = _run_in_thread(job)
    deadline = time.time() + 120
    while not steps and time.time() < deadline:
        time.sleep(0.02)
    job.pause()
    time.sleep(0.3)  # let the step in flight finish
    frozen = len(steps)
    time.sleep(0.7)
    assert len(steps) == frozen and job.paused
    job.resume()
    t.join(120)
    assert box[0].ok
    assert steps[-1] == 12
    assert not any(isinstance(e, Cancelled) for e in events)
