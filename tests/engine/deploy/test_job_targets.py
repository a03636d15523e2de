"""deploy.targets end to end: a tiny job records target_checks on its card, the recipe refuses
an unknown target by name, and `workbench-cli check ID --target` exits 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.config_fields import ConfigError
from engine.deploy.config import use_workspace
from engine.job import Job
from engine.recipe import Recipe
from engine.store import Workspace
from tests.engine.conftest import TINY_RECIPE

INT8_JOB = TINY_RECIPE.replace(
    "  - {type: unstructured_prune, amount: 0.5, scope: global}", "  - {type: int8_dynamic}"
).replace("max_steps: 8", "max_steps: 2") + "deploy: {targets: [edge, roomy]}\n"


@pytest.fixture(scope="module")
def job_ws(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    (ws / "targets").mkdir()
    (ws / "targets" / "roomy.yaml").write_text("kind: server-cpu\nmax_size_mb: 500\nthreads: 1\n")
    # roomy lives only in this workspace (not the default one): the job's own workspace counts
    result = Job(Recipe.from_yaml(INT8_JOB), workspace=ws).run()
    assert result.ok, result.error
    return ws, Workspace(ws).variants(status="finished")[-1]


def test_the_job_puts_each_file_against_each_target_on_the_card(job_ws):
    _ws, v = job_ws
    checks = {(c["target"], c["artifact"]): c for c in v.card["target_checks"]}
    kinds = [a["kind"] for a in v.card["artifacts"]]
    assert len(kinds) == 2 and set(checks) == {(t, k) for t in ("edge", "roomy") for k in kinds}
    fp32 = checks[("edge", "onnx-fp32")]
    int8 = checks[("edge", kinds[1])]
    assert not fp32["passed"] and int8["passed"], int8
    assert any("needs int8 weights" in r["reason"] for r in fp32["requirements"])
    assert fp32["proxy"]  # the edge's latency is measured here
    assert all(checks[("roomy", k)]["passed"] for k in kinds)


def test_show_prints_each_files_verdict_and_the_failing_requirements(job_ws, capsys):
    ws, v = job_ws
    assert main(["show", v.id, "-w", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "target onnx-fp32 on edge: FAIL" in out and "FAIL  int8 weights" in out
    assert "PASS  file size" not in out  # passing requirements stay in `check --target`
    assert "on roomy: PASS" in out


def test_recipe_refuses_an_unknown_target_naming_its_place(tmp_path):
    use_workspace(tmp_path)  # a workspace without targets of its own
    with pytest.raises(ConfigError, match=r"deploy\.targets\[1\]: unknown target 'toaster'; "
                       "known: edge, mobile, mobile-npu, server-cpu, server-gpu"):
        Recipe.from_yaml("deploy: {targets: [edge, toaster]}").validate()


def test_cli_check_target_exit_codes(job_ws, capsys):
    ws, v = job_ws
    assert main(["check", v.id, "--target", "edge", "-w", str(ws)]) == 1
    out = capsys.readouterr().out
    assert "onnx-fp32 on edge: FAIL" in out and "FAIL  int8 weights" in out
    assert "needs int8 weights" in out and "proxy" in out
    assert main(["check", v.name, "--target", "roomy", "-w", str(ws), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and {r["target"] for r in data["results"]} == {"roomy"}
    assert main(["check", v.id, "--target", "toaster", "-w", str(ws)]) == 2
    assert "unknown target 'toaster'; known: edge" in capsys.readouterr().err
    assert main(["check", "no-such-variant", "--target", "edge", "-w", str(ws)]) == 2


def test_cli_targets_lists_shipped_and_workspace_ones(job_ws, capsys):
    ws, _v = job_ws
    assert main(["targets", "-w", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "edge" in out and "int8 required" in out and "roomy" in out
    assert main(["targets", "-w", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["edge"]["max_peak_memory_mb"] == 256


def test_cli_run_accepts_a_target_of_its_own_workspace(tmp_path, capsys):
    """`run -w WS` validates deploy.targets against WS's targets/ before the job starts."""
    ws = tmp_path / "ws"
    (ws / "targets").mkdir(parents=True)
    (ws / "targets" / "mine.yaml").write_text("kind: server-cpu\nmax_size_mb: 500\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY_RECIPE.replace("max_steps: 8", "max_steps: 1")
                      + "deploy: {targets: [mine]}\n")
    assert main(["check", str(recipe), "-w", str(ws)]) == 0, capsys.readouterr().err
    other = tmp_path / "other"
    assert main(["check", str(recipe), "-w", str(other)]) == 2
    assert "deploy.targets[0]: unknown target 'mine'" in capsys.readouterr().err
