"""Nothing silently wrong: NaN losses fail, divergence and guessed encodings are warnings on
the card, reports are strict JSON, and damaged variants are marked in listings."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from engine.cli import main
from engine.job import Job
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec
from engine.store import Workspace
from tests.engine.conftest import tiny_recipe


def _quick(**train):
    r = tiny_recipe()
    return r.replace(train=dataclasses.replace(r.train, log_every=1, **train),
                     export=dataclasses.replace(r.export, enabled=False))


def test_a_loss_that_becomes_nan_fails_the_run_with_the_step_and_the_fix(tmp_path):
    state = load_model(ModelSpec()).module.state_dict()
    for v in state.values():
        if v.is_floating_point():
            v.mul_(1e30)  # finite weights whose logits overflow to inf: the loss is NaN
    torch.save(state, tmp_path / "huge.pt")
    recipe = _quick().replace(model=ModelSpec(source="torch", path=str(tmp_path / "huge.pt"),
                                              architecture="tiny-gpt"))
    result = Job(recipe, workspace=tmp_path / "ws").run()
    assert result.status == "failed"
    assert "training loss became nan by step 1; lower train.lr" in result.error
    ws = Workspace(tmp_path / "ws")
    assert ws.get(result.run_id).status == "failed"
    base = ws.get(result.parent_id)  # the baseline's perplexity was NaN: finished, with a warning
    assert base.status == "finished" and "not finite" in base.card["warnings"][0]
    report = (ws.run_dir(base.id) / "report.json").read_text()
    assert "NaN" not in report and json.loads(report)["metrics"]["perplexity"] is None


def test_divergence_is_a_warning_on_the_card_and_in_listings(tmp_path, capsys):
    result = Job(_quick(lr=10.0, max_steps=12), workspace=tmp_path).run()
    assert result.status == "finished"
    (warning,) = result.card["warnings"]
    assert warning.startswith("training diverged: the loss ended at") and "lower train.lr (now 10)" in warning
    assert main(["list", "-w", str(tmp_path)]) == 0
    # a diverged run's metric is also far worse than its parent's: it is flagged collapsed too
    assert "finished, collapsed, 1 warning" in capsys.readouterr().out
    assert main(["show", result.run_id, "-w", str(tmp_path)]) == 0
    assert "warning: training diverged" in capsys.readouterr().out
    lines = (tmp_path / "runs" / result.run_id / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # strict JSON, line by line


@pytest.mark.parametrize("encoding,text", [
    ("cp1252", "The café served crème brûlée; naïve déjà vu at the façade, “quoted” — fine. "),
    ("cp932", "これは日本語のテキストです。機械学習のデータとして使います。吾輩は猫である。"),
])
def test_a_non_utf8_text_file_is_decoded_by_guess_with_a_warning(tmp_path, encoding, text):
    (tmp_path / "d.txt").write_bytes((text * 60).encode(encoding))
    recipe = _quick(max_steps=2).replace(data=DataSpec(source="text", path=str(tmp_path / "d.txt"),
                                                       max_length=32))
    result = Job(recipe, workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    (warning,) = result.card["warnings"]
    assert f"d.txt is not UTF-8; it was decoded as {encoding}" in warning and "data.encoding" in warning


def test_a_given_encoding_is_used_without_a_warning(tmp_path):
    (tmp_path / "d.txt").write_bytes(("naïve café " * 200).encode("latin-1"))
    data = DataSpec(source="text", path=str(tmp_path / "d.txt"), max_length=32, encoding="latin-1")
    result = Job(_quick(max_steps=2).replace(data=data), workspace=tmp_path / "ws").run()
    assert result.ok and "warnings" not in result.card


def test_a_variant_whose_files_were_deleted_is_marked_and_refused(finished_job, tmp_path, capsys):
    ws_path = tmp_path / "ws"
    shutil.copytree(finished_job[0], ws_path)
    run_id = finished_job[1].run_id
    (ws_path / "runs" / run_id / "model.onnx").unlink()
    assert main(["list", "-w", str(ws_path)]) == 0
    assert "finished, files missing" in capsys.readouterr().out
    assert main(["show", run_id, "-w", str(ws_path), "--json"]) == 0
    assert "its ONNX file" in json.loads(capsys.readouterr().out)["missing"]
    from engine.export_variant import export_variant

    with pytest.raises(ValueError, match="cannot be exported: its ONNX file"):
        export_variant(Workspace(ws_path), run_id)
