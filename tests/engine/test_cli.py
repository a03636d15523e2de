"""workbench-cli end to end (the table of bad inputs lives in tests/engine/bad_inputs/)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

from engine.cli import main
from tests.engine.conftest import TINY_RECIPE


def cli(*args: str) -> subprocess.CompletedProcess:
    """workbench-cli in this process (its main(), as the console script calls it): the real
    entry point as a child process is covered by the Ctrl+C and kill tests."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exit
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


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


def test_show_unknown_id_and_missing_recipe(tmp_path):
    out = cli("show", "nope", "--workspace", str(tmp_path))
    assert out.returncode == 2 and "no variant named" in out.stderr
    out = cli("run", str(tmp_path / "missing.yaml"), "--workspace", str(tmp_path))
    assert out.returncode == 2 and "recipe file not found" in out.stderr


def test_resume_continues_a_cancelled_run_and_show_explains_the_shrink(tmp_path):
    from engine.recipe import ExportConfig, TrainConfig
    from tests.engine.conftest import run_cancelled_at, tiny_recipe

    recipe = tiny_recipe(name="resume-me", export=ExportConfig(opset=17, parity_batches=1, latency_runs=3, latency_seq=32),
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
