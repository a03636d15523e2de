"""workbench-cli end to end, and the bad inputs a user will feed it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.store import Workspace
from tests.engine.conftest import TINY_RECIPE

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_run_list_show_json(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY_RECIPE)
    ws = tmp_path / "ws"
    out = cli("run", str(recipe), "--workspace", str(ws))
    assert out.returncode == 0, out.stderr
    assert "tiny-prune" in out.stdout and "(base)" in out.stdout  # results table: variant + parent
    run_id = out.stdout.split("run id: ")[1].split()[0]
    shown = cli("show", run_id, "--workspace", str(ws), "--json")
    assert shown.returncode == 0, shown.stderr
    card = json.loads(shown.stdout)
    for key in ("id", "parent", "status", "metrics", "onnx"):
        assert key in card
    assert card["status"] == "finished"
    assert card["model"]["params"] > card["model"]["nonzero_params"] > 0
    assert card["model"]["size_bytes"] > 0
    assert abs(card["sparsity"]["overall"] - 0.5) < 0.01
    assert card["sparsity"]["layers"] and all(0 <= v <= 1 for v in card["sparsity"]["layers"].values())
    assert Path(card["onnx"]["path"]).is_file() and card["onnx"]["size_bytes"] > 0
    assert card["onnx"]["max_abs_diff"] < 1e-3 and card["onnx"]["latency_ms_p50"] > 0
    assert card["metrics"]["perplexity"] > 1
    listed = cli("list", "--workspace", str(ws))
    assert listed.returncode == 0 and listed.stdout.count("finished") == 2
    by_name = json.loads(cli("show", "tiny-prune", "--workspace", str(ws), "--json").stdout)
    assert by_name["id"] == run_id


def _recipe_with_model(tmp_path: Path, model_yaml: str, name: str) -> Path:
    text = TINY_RECIPE.replace("model: {source: builtin, path: tiny-gpt}", f"model: {model_yaml}")
    p = tmp_path / f"{name}.yaml"  # one file per case: they are all built before one is run
    p.write_text(text)
    return p


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = ""


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    global MARKER
    from engine.models.loaders import load_model
    from engine.recipe import ModelSpec

    good = tmp_path / "good.pt"
    torch.save(load_model(ModelSpec()).module.state_dict(), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text_pt = tmp_path / "notes.pt"
    text_pt.write_text("these are my notes, not a model\n")
    MARKER = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    torch.save({"payload": RunsCode()}, evil)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    return {
        "truncated checkpoint": (_recipe_with_model(tmp_path, f"{{source: torch, path: {truncated}, architecture: tiny-gpt}}", "truncated"), "truncated"),
        "text renamed .pt": (_recipe_with_model(tmp_path, f"{{source: torch, path: {text_pt}, architecture: tiny-gpt}}", "text"), "not"),
        "pickle running code": (_recipe_with_model(tmp_path, f"{{source: torch, path: {evil}, architecture: tiny-gpt}}", "evil"), "trust"),
        "amount 1.5": (_recipe_with_model(tmp_path, "{source: builtin, path: tiny-gpt}", "amount"), "must be in [0, 1), got 1.5"),
        "empty data file": (_recipe_with_model(tmp_path, "{source: builtin, path: tiny-gpt}", "empty"), "empty"),
        "pattern matching nothing": (_recipe_with_model(tmp_path, "{source: builtin, path: tiny-gpt}", "nomatch"),
                                     "match no layer; layer names look like: blocks.0"),
        "N:M on a width not divisible by M": (_recipe_with_model(tmp_path, "{source: builtin, path: tiny-gpt}", "nm"),
                                              "needs input widths divisible by 48"),
    }


@pytest.mark.parametrize("case", ["truncated checkpoint", "text renamed .pt", "pickle running code",
                                  "amount 1.5", "empty data file", "pattern matching nothing",
                                  "N:M on a width not divisible by M"])
def test_bad_input_is_one_clear_line_and_workspace_is_intact(case, tmp_path, finished_job):
    ws_path, result, _ = finished_job
    before = [(v.id, v.status) for v in Workspace(ws_path).variants()]
    cases = _bad_inputs(tmp_path)
    recipe, expected = cases[case]
    if case == "amount 1.5":
        recipe.write_text(TINY_RECIPE.replace("amount: 0.5", "amount: 1.5"))
    if case == "empty data file":
        recipe.write_text(TINY_RECIPE.replace("source: builtin, path: shakespeare",
                                              f"source: text, path: {tmp_path / 'empty.txt'}"))
    if case == "pattern matching nothing":
        recipe.write_text(TINY_RECIPE.replace("amount: 0.5", "amount: 0.5, include: ['encoder.*']"))
    if case == "N:M on a width not divisible by M":
        recipe.write_text(TINY_RECIPE.replace("type: unstructured_prune, amount: 0.5, scope: global",
                                              "type: nm_prune, n: 2, m: 48"))
    out = cli("run", str(recipe), "--workspace", str(ws_path))
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, out.stderr
    assert expected in lines[0]
    assert "Traceback" not in out.stderr
    assert [(v.id, v.status) for v in Workspace(ws_path).variants()] == before
    assert not (tmp_path / "pwned").exists()


def test_show_unknown_id_and_missing_recipe(tmp_path):
    out = cli("show", "nope", "--workspace", str(tmp_path))
    assert out.returncode == 2 and "no variant named" in out.stderr
    out = cli("run", str(tmp_path / "missing.yaml"), "--workspace", str(tmp_path))
    assert out.returncode == 2 and "recipe file not found" in out.stderr


def test_resume_continues_a_cancelled_run_and_show_explains_the_shrink(tmp_path):
    from engine.recipe import ExportConfig, TrainConfig
    from tests.engine.conftest import run_cancelled_at, tiny_recipe

    recipe = tiny_recipe(name="resume-me", export=ExportConfig(parity_batches=1, latency_runs=3, latency_seq=32),
                         train=TrainConfig(max_steps=8, batch_size=8, log_every=1, eval_every=100,
                                           checkpoint_every=3))
    first = run_cancelled_at(recipe, tmp_path, step=5)
    out = cli("resume", first.run_id, "--workspace", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "resumed from step 3" in out.stderr
    assert "unstructured sparsity keeps dense tensors" in out.stdout  # the shrink verdict
    card = json.loads(cli("show", first.run_id, "--workspace", str(tmp_path), "--json").stdout)
    assert card["status"] == "finished" and card["shrink"]["params_nonzero"] < card["shrink"]["params_dense"]
    again = cli("resume", first.run_id, "--workspace", str(tmp_path))
    assert again.returncode == 2 and "is finished; only a cancelled" in again.stderr
    assert cli("resume", "nope", "--workspace", str(tmp_path)).returncode == 2
