"""Logging runs to MLflow (engine/tracking): the real mlflow client and a local file store.

MLflow 3 refuses its folder store unless MLFLOW_ALLOW_FILE_STORE is set: the tests set it
(a sqlite store costs ~8 s of schema migrations per database; the server route is the same
client calls over HTTP).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from engine.cli.tracking_opts import logs_here, tracking_listeners
from engine.config_fields import ConfigError
from engine.events import Artifact, Finished, Metric
from engine.job import Job
from engine.recipe import ExportConfig, Recipe, TrainConfig
from engine.tracking import TrackingChoice, mlflow_listener, tracking_choice
from tests.engine.conftest import TINY_RECIPE, tiny_recipe
from tests.engine.test_cli import cli

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install -e '.[mlflow]')")
NO_EXPORT = {"export": ExportConfig(enabled=False)}


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A local MLflow store (its URI) and a client reading it back."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    return uri, mlflow.MlflowClient(tracking_uri=uri)


def only_run(client, experiment: str = "workbench"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def jsonl_metric(folder: Path, name: str) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["value"]) for r in rows if r["event"] == "Metric" and r["name"] == name]


def test_cli_run_logs_params_metrics_card_files_and_status(tmp_path, store):
    uri, client = store
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY_RECIPE)
    ws = tmp_path / "ws"
    out = cli("run", str(recipe), "-w", str(ws), "-q", "--mlflow", uri,
              "--mlflow-experiment", "team", "--mlflow-artifacts", "onnx")
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr
    run = only_run(client, "team")
    run_id = out.stdout.split("run id: ")[1].split()[0]
    folder = ws / "runs" / run_id
    card = json.loads((folder / "report.json").read_text())
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny-prune"
    tags = run.data.tags
    assert tags["workbench.run_id"] == run_id and tags["workbench.parent_id"] == card["parent"]
    assert tags["workbench.recipe"] == str(recipe.resolve())
    params = run.data.params  # the recipe as run, defaults filled in
    assert params["model.path"] == "tiny-gpt" and params["methods.0.type"] == "unstructured_prune"
    assert params["methods.0.amount"] == "0.5" and params["train.lr"] == "0.001"
    assert params["train.weight_decay"] == "0.0"  # a default the file did not set
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == jsonl_metric(folder, "train/loss") != []
    assert [m.step for m in history] == [2, 4, 6, 8]
    metrics = run.data.metrics  # the card's final numbers
    assert metrics["card/latency_ms_p50"] == pytest.approx(card["onnx"]["latency_ms_p50"])
    assert metrics["card/params"] == card["model"]["params"]
    assert metrics["card/perplexity"] == pytest.approx(card["metrics"]["perplexity"])
    assert metrics["artifact/onnx-fp32/size_bytes"] == card["artifacts"][0]["size_bytes"]
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"recipe.yaml", "report.json", "metrics.jsonl", "onnx"} <= files
    onnx = [a.path for a in client.list_artifacts(run.info.run_id, "onnx")]
    assert onnx == ["onnx/model.onnx"]


def test_cancel_is_killed_and_resume_continues_the_same_mlflow_run(tmp_path, store):
    uri, client = store
    ws = tmp_path / "ws"
    logger = mlflow_listener(TrackingChoice(uri), workspace=ws)
    train = TrainConfig(max_steps=8, batch_size=8, log_every=2, eval_every=100, checkpoint_every=2)
    job = Job(tiny_recipe(train=train, **NO_EXPORT), [logger], workspace=ws)
    job.listeners.append(lambda e: job.cancel() if isinstance(e, Metric)
                         and e.name == "train/loss" and e.step == 4 else None)  # fmt: skip
    result = job.run()
    assert result.status == "cancelled"
    run = only_run(client)
    assert run.info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [2, 4]
    assert run.data.tags["workbench.parent_id"] == result.parent_id  # from the index: no card
    assert "report.json" not in {a.path for a in client.list_artifacts(run.info.run_id)}

    out = cli("resume", result.run_id, "-w", str(ws), "--mlflow", uri)
    assert out.returncode == 0, out.stderr
    assert f"MLflow: continuing tiny-prune at {uri}, experiment workbench" in out.stderr
    again = only_run(client)  # the same MLflow run, continued
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert steps[:2] == [2, 4] and steps[-1] == 8


def test_unreachable_server_costs_one_warning_line_and_the_run_finishes(tmp_path, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(tiny_recipe(**NO_EXPORT).to_yaml())
    ws = tmp_path / "ws"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # the discard port: refused
    started = time.monotonic()
    out = cli("run", str(recipe), "-w", str(ws), "-q")
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 60
    warnings = [line for line in out.stderr.splitlines() if "MLflow" in line]
    assert len(warnings) == 1 and "http://127.0.0.1:9" in warnings[0], out.stderr
    listed = json.loads(cli("list", "-w", str(ws), "--json").stdout)
    assert {v["status"] for v in listed} == {"finished"} and len(listed) == 2


def test_metrics_reach_mlflow_while_the_run_goes_on(tmp_path, store):
    """A flush every 2 events: the first metrics are in MLflow before the run ends."""
    uri, client = store
    folder = tmp_path / "runs" / "20990101-000000-abcdef"
    folder.mkdir(parents=True)
    (folder / "recipe.yaml").write_text(TINY_RECIPE)
    (folder / "metrics.jsonl").write_text("")
    logger = mlflow_listener(TrackingChoice(uri, "live"))
    logger.flush_events = 2
    logger(Metric("val/loss", 0, 9.0))  # before the run is registered: the baseline's, left out
    logger(Artifact("metrics", str(folder / "metrics.jsonl")))
    for step in (1, 2):
        logger(Metric("train/loss", step, 1.0 / step))
    deadline = time.monotonic() + 30
    while logger.mlflow_run_id is None or not client.get_metric_history(
            logger.mlflow_run_id, "train/loss"):  # fmt: skip
        assert time.monotonic() < deadline, "no metric reached MLflow before the end"
        time.sleep(0.1)
    assert client.get_run(logger.mlflow_run_id).info.status == "RUNNING"
    logger(Finished(folder.name))  # no card: the status and the files all the same
    run = client.get_run(logger.mlflow_run_id)
    assert run.info.status == "FINISHED" and "val/loss" not in run.data.metrics
    assert run.info.run_name == "tiny-prune" and run.data.params["data.path"] == "shakespeare"


def test_the_uri_comes_from_the_user_never_from_a_recipe(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("WORKBENCH_MLFLOW_ARTIFACTS", raising=False)
    assert tracking_choice() is None
    with pytest.raises(ConfigError, match="tracking"):  # a recipe has no such field
        Recipe.from_yaml(TINY_RECIPE + "tracking: {mlflow_uri: http://their-server:5000}\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mine:5000")
    assert tracking_choice() == TrackingChoice("http://mine:5000", "workbench", False)
    assert tracking_choice("sqlite:///x.db", "exp", "onnx") == TrackingChoice("sqlite:///x.db",
                                                                             "exp", True)
    with pytest.raises(ValueError, match="--mlflow-artifacts: unknown artifact kind 'pt'"):
        tracking_choice(artifacts="pt")


def test_a_bad_artifact_kind_is_one_line_and_nothing_runs(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY_RECIPE)
    out = cli("run", str(recipe), "-w", str(tmp_path / "ws"), "--mlflow", "http://x:5000",
              "--mlflow-artifacts", "onnx,pt")
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: --mlflow-artifacts: unknown artifact kind 'pt'; "
                                  "choose from: onnx")
    assert not (tmp_path / "ws" / "runs").exists()


def test_only_the_process_speaking_for_the_run_logs(monkeypatch, tmp_path):
    import argparse

    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "m").as_uri())
    args = argparse.Namespace(events_json=False, mlflow=None, mlflow_experiment=None,
                              mlflow_artifacts=None)
    assert logs_here(args)  # a plain run
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not logs_here(args) and tracking_listeners(args, [], tmp_path) == []
    monkeypatch.setenv("RANK", "0")
    assert logs_here(args)  # rank 0 under the user's own torchrun
    args.events_json = True  # rank 0 under `run`'s relay: the relay logs
    assert not logs_here(args)


def test_a_store_mlflow_refuses_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    said: list[str] = []
    logger = mlflow_listener(TrackingChoice(str(tmp_path / "mlruns")),
                             tell=lambda text, level: said.append(f"{level}: {text}"))
    assert logger.wait(30)
    logger(Finished("x"))  # after giving up: dropped at once
    assert len(said) == 1 and said[0].startswith("warning: MLflow"), said
    assert "MLFLOW_ALLOW_FILE_STORE=true" in said[0]
