"""A pruning step then a quantization step in one recipe, through the whole stage-based job:
the pruned model is exported, quantized, and every file is measured on itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.export.artifact_eval import evaluate_onnx
from engine.job import Job
from engine.recipe import Recipe
from engine.store import Workspace

RECIPE = """
name: prune-then-int8
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 120}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
  - {type: int8_dynamic, per_channel: true, optimize: none}
train: {epochs: 0, batch_size: 8}
export: {parity_batches: 1, latency_runs: 5, latency_seq: 32}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    result = Job(Recipe.from_yaml(RECIPE), workspace=ws).run()
    assert result.ok, result.error
    return ws, Workspace(ws).get(result.run_id).card


def test_every_deployable_file_is_on_the_card(run):
    ws, card = run
    fp32, int8 = card["artifacts"]
    assert (fp32["kind"], int8["kind"]) == ("onnx-fp32", "onnx-int8-dynamic")
    assert fp32["path"] == card["onnx"]["path"]  # the existing onnx section is the fp32 one
    assert Path(int8["path"]).is_file() and Path(int8["path"]).parent == Path(fp32["path"]).parent
    assert int8["checker_ok"], int8["checker_message"]
    assert int8["size_bytes"] <= 0.35 * fp32["size_bytes"]
    assert int8["step"] == 2 and int8["latency_ms_p50"] > 0 and int8["speedup_vs_fp32"] > 0
    # the quantized file was made from the pruned export: its outputs follow that file's
    assert int8["cosine"] > 0.99 and card["sparsity"]["overall"] > 0.45


def test_the_quantized_metric_comes_from_running_that_file(run):
    ws, card = run
    int8 = card["artifacts"][1]
    recipe = Recipe.from_yaml(RECIPE)
    from engine.data import load_data
    from engine.models.loaders import load_model

    loaded = load_model(recipe.model)
    data = load_data(recipe.data, loaded)
    again = evaluate_onnx(int8["path"], "causal-lm", data.val, ["input_ids", "attention_mask"], 8)
    assert int8["metrics"]["perplexity"] == pytest.approx(again["perplexity"], rel=1e-5)
    # ... and is not the fp32 file's number copied over
    assert int8["metrics"]["perplexity"] != card["artifacts"][0]["metrics"]["perplexity"]


def test_did_it_shrink_judges_each_file(run):
    ws, card = run
    (judged,) = card["shrink"]["artifacts"]
    assert judged["kind"] == "onnx-int8-dynamic"
    assert judged["size_ratio_vs_fp32"] == pytest.approx(
        card["artifacts"][1]["size_bytes"] / card["artifacts"][0]["size_bytes"])
    assert judged["size_ratio_vs_parent"] < 0.4 and "perplexity" in judged["measured"]


def test_show_json_lists_the_artifacts(run, capsys):
    ws, card = run
    assert main(["show", card["id"], "--json", "-w", str(ws)]) == 0
    shown = json.loads(capsys.readouterr().out)
    kinds = [a["kind"] for a in shown["artifacts"]]
    assert kinds == ["onnx-fp32", "onnx-int8-dynamic"]
    assert "perplexity" in shown["artifacts"][1]["metrics"]


def test_per_node_errors_name_the_pytorch_layers(run):
    ws, card = run
    errors = card["artifacts"][1]["summary"]["node_errors"]
    assert errors and all(set(e) >= {"node", "layer", "sqnr_db", "rel_error"} for e in errors)
    # the anatomy's names (blocks.0.mlp.fc ...), not the exporter's node ids
    from engine.models.loaders import load_model

    modules = dict(load_model(Recipe.from_yaml(RECIPE).model).module.named_modules())
    assert all(e["layer"] in modules for e in errors), [e["layer"] for e in errors]
