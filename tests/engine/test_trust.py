"""Trust to unpickle comes from the user only: never from a manifest, a stored recipe or a
training state found in a workspace (which may have been copied from anywhere)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.cli import main
from engine.export_variant import export_variant
from engine.recipe import ExportConfig, ModelSpec, Recipe, TrainConfig
from engine.store import TRAIN_STATE, Workspace
from tests.engine.bad_inputs.cases_files import RunsCode
from tests.engine.conftest import run_cancelled_at, tiny_recipe


def _evil(tmp_path):
    torch.save(RunsCode(tmp_path), tmp_path / "evil.pt")
    return tmp_path / "evil.pt"


def _stored_trusting_recipe(tmp_path, methods: bool = True) -> str:
    """A recipe as a workspace would store it, saying trust: true for a code-running pickle."""
    recipe = tiny_recipe(name="copied", **({} if methods else {"methods": ()})).replace(
        model=ModelSpec(source="torch", path=str(_evil(tmp_path)), trust=True, task="causal-lm"))
    assert "trust: true" in recipe.to_yaml()
    return recipe.to_yaml()


def test_resume_never_takes_trust_from_the_stored_recipe(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    run = ws.new_run("copied", _stored_trusting_recipe(tmp_path))
    torch.save({"step": 1, "model": {}, "optimizer": {}}, ws.run_dir(run.id) / TRAIN_STATE)
    ws.mark(run.id, "cancelled", "cancelled by the user")
    assert main(["resume", run.id, "-w", str(tmp_path / "ws"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "evil.pt needs full unpickling" in err and "model.trust" in err
    assert not (tmp_path / "pwned").exists()
    assert ws.get(run.id).status == "cancelled"


def test_a_baseline_variant_reloads_with_the_users_trust_not_the_stored_one(tmp_path):
    ws = Workspace(tmp_path / "ws")
    base = ws.new_run("evil (base)", _stored_trusting_recipe(tmp_path, methods=False))
    ws.finish(base.id, {"id": base.id})
    with pytest.raises(Exception, match="model.trust"):
        export_variant(ws, base.id, ExportConfig())
    recipe = tiny_recipe().replace(model=ModelSpec(source="variant", path="evil (base)"))
    from engine.job import Job

    result = Job(recipe, workspace=ws).run()
    assert result.status == "failed" and "model.trust" in result.error and result.run_id is None
    assert not (tmp_path / "pwned").exists()


def test_a_training_state_holding_code_is_refused_before_the_run_is_touched(tmp_path, capsys):
    recipe = tiny_recipe(name="resume-me", export=ExportConfig(enabled=False),
                         train=TrainConfig(max_steps=8, batch_size=8, log_every=1, eval_every=100,
                                           checkpoint_every=3))
    first = run_cancelled_at(recipe, tmp_path, step=5)
    state = tmp_path / "runs" / first.run_id / TRAIN_STATE
    torch.save({"step": 3, "model": RunsCode(tmp_path), "optimizer": {}}, state)
    assert main(["resume", first.run_id, "-w", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "train_state.pt holds more than tensors" in err and "run its recipe again" in err
    assert "weights_only" not in err and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()
    assert Workspace(tmp_path).get(first.run_id).status == "cancelled"


def test_untrusted_clears_only_the_trust(tmp_path):
    r = Recipe.from_yaml(_stored_trusting_recipe(tmp_path))
    assert r.model.trust and not r.untrusted().model.trust
    assert dataclasses.replace(r.untrusted().model, trust=True) == r.model
