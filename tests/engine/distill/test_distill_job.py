"""The distill step run as a whole job: the shipped tiny-gpt recipe (4 blocks -> 2 by layer drop,
teacher: parent), shortened; and "prune, then distill from the unpruned model" in one recipe."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from engine.events import Metric
from engine.job import Job
from engine.models.builtin import load_builtin
from engine.models.loaders import load_model
from engine.recipe import ExportConfig, ModelSpec, Recipe
from engine.store import Workspace

RECIPES = Path(__file__).resolve().parents[3] / "assets" / "recipes"


def _short(recipe: Recipe, steps: int = 12) -> Recipe:
    """The recipe on less data and fewer steps, without export (seconds, not minutes)."""
    return recipe.replace(
        data=dataclasses.replace(recipe.data, max_samples=200, max_length=32),
        train=dataclasses.replace(recipe.train, max_steps=steps, eval_every=6, log_every=2),
        export=ExportConfig(enabled=False),
    )


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    """One finished run of distill-tiny-gpt: (its JobResult, its run folder)."""
    ws = tmp_path_factory.mktemp("distill-ws")
    result = Job(_short(Recipe.load(RECIPES / "distill-tiny-gpt.yaml")), workspace=ws).run()
    assert result.ok, result.error
    return result, ws / "runs" / result.run_id


def test_the_card_shows_a_smaller_student_and_its_teacher(distilled):
    result, folder = distilled
    model, (step,) = result.card["model"], result.card["steps"]
    teacher_params = sum(p.numel() for p in load_builtin("tiny-gpt", None).module.parameters())
    assert model["params_before"] == teacher_params == step["teacher_params"]
    assert model["params"] == step["student_params"] < 0.6 * teacher_params
    assert step["kept_blocks"] == [0, 2] and step["student_blocks"] == 2
    assert "4 layers" in step["teacher"] and "2 layers" in model["description"]
    assert any("MiB in memory" in note for note in step["notes"])
    # the teacher's own mark on the validation split: the parent's (the untrained baseline's)
    parent = Workspace(folder.parent.parent).get(result.parent_id).card["metrics"]
    assert step["teacher_metrics"]["perplexity"] == pytest.approx(parent["perplexity"], rel=1e-4)


def test_metrics_carry_each_loss_part(distilled):
    _, folder = distilled
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    names = {row.get("name") for row in rows}
    assert {"train/loss", "train/loss/task", "train/loss/kd", "val/loss"} <= names
    kd = [row["value"] for row in rows if row.get("name") == "train/loss/kd"]
    assert kd and all(v >= 0 for v in kd)
    # the teacher's mark, sent once before training for the Run page's dashed reference line
    (mark,) = [row for row in rows if row.get("name") == "teacher/val/perplexity"]
    step = distilled[0].card["steps"][0]
    assert mark["value"] == pytest.approx(step["teacher_metrics"]["perplexity"])


def test_the_student_checkpoint_reloads_as_a_two_block_tiny_gpt(distilled):
    result, folder = distilled
    loaded = load_model(ModelSpec(source="checkpoint", path=str(folder / "checkpoint")))
    assert loaded.module.config.n_layer == 2 and len(loaded.module.blocks) == 2
    assert sum(p.numel() for p in loaded.module.parameters()) == result.card["model"]["params"]
    ids = torch.randint(0, 258, (1, 8))
    assert loaded.module(ids, torch.ones_like(ids)).shape == (1, 8, 258)


def test_prune_then_distill_from_the_unpruned_model(tmp_path):
    recipe = Recipe.from_yaml("""
name: prune-then-distill
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare}
methods:
  - {type: structured_prune, target: ffn, amount: 0.5, importance: l1}
  - {type: distill, student: as_loaded, alpha: 0.5}
train: {epochs: 1, batch_size: 8, lr: 0.001}
""")
    result = Job(_short(recipe, steps=4), workspace=tmp_path).run()
    assert result.ok, result.error
    distill = result.card["steps"][1]
    # the teacher is the model as loaded, not the pruned one the step was given
    assert distill["teacher_params"] == result.card["model"]["params_before"]
    assert distill["student_params"] == result.card["model"]["params"] < distill["teacher_params"]
    assert distill["student_blocks"] == distill["teacher_blocks"] == 4


def test_a_smaller_student_replaces_the_model_and_saves_as_its_family(tmp_path):
    recipe = Recipe.from_yaml("""
name: smaller-student
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare}
methods:
  - {type: distill, student: smaller, student_layers: 1, width_factor: 0.5}
train: {epochs: 1, batch_size: 8, lr: 0.001}
""")
    result = Job(_short(recipe, steps=4), workspace=tmp_path).run()
    assert result.ok, result.error
    step = result.card["steps"][0]
    assert step["student_blocks"] == 1 and step["kept_blocks"] is None  # new, random blocks
    folder = tmp_path / "runs" / result.run_id / "checkpoint"
    module = load_model(ModelSpec(source="checkpoint", path=str(folder))).module
    assert (module.config.n_layer, module.config.d_model) == (1, 64)
    assert sum(p.numel() for p in module.parameters()) == result.card["model"]["params"]


def test_offline_teacher_outputs_train_the_student_without_the_teacher(tmp_path):
    recipe = Recipe.load(RECIPES / "distill-tiny-gpt.yaml")
    step = dataclasses.replace(recipe.methods[0], offline_topk=8)
    result = Job(_short(recipe.replace(methods=(step,)), steps=4), workspace=tmp_path).run()
    assert result.ok, result.error
    offline = result.card["steps"][0]["offline"]
    recorded = tmp_path / "runs" / result.run_id / offline["file"]
    assert recorded.is_file() and recorded.stat().st_size == offline["file_bytes"]
    assert offline["k"] == 8 and offline["samples"] > 0
    assert offline["teacher_bytes_saved"] == result.card["steps"][0]["teacher_bytes"]
    assert any("MiB saved" in note for note in result.card["steps"][0]["notes"])


def test_a_cancelled_distillation_resumes_to_the_uninterrupted_result(tmp_path):
    from tests.engine.conftest import run_cancelled_at

    base = _short(Recipe.load(RECIPES / "distill-tiny-gpt.yaml"))
    recipe = base.replace(train=dataclasses.replace(base.train, log_every=1, checkpoint_every=4,
                                                    eval_every=100))  # fmt: skip
    whole = Job(recipe, workspace=tmp_path / "whole").run()
    first = run_cancelled_at(recipe, tmp_path / "ws", step=9)
    steps: list[int] = []
    again = Job(recipe, [lambda e: steps.append(e.step) if isinstance(e, Metric) and e.name == "train/loss/kd"
                         else None], workspace=tmp_path / "ws", resume_run=first.run_id).run()  # fmt: skip
    assert again.ok and again.run_id == first.run_id, again.error
    assert steps[0] == 9 and steps[-1] == 12  # continued after the training state of step 8
    assert again.card["model"]["params"] == whole.card["model"]["params"]  # the same student
    assert again.card["metrics"]["loss"] == pytest.approx(whole.card["metrics"]["loss"], abs=1e-5)


def test_masks_then_distilling_the_model_as_loaded_keeps_the_masks(tmp_path):
    recipe = Recipe.from_yaml("""
name: sparse-student
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
  - {type: distill, student: as_loaded}
train: {epochs: 1, batch_size: 8, lr: 0.001}
""")
    result = Job(_short(recipe, steps=4), workspace=tmp_path).run()
    assert result.ok, result.error
    assert result.card["sparsity"]["overall"] == pytest.approx(0.5, abs=0.005)
    assert result.card["steps"][1]["teacher_params"] == result.card["model"]["params_before"]
    cut = recipe.replace(methods=(recipe.methods[0], dataclasses.replace(recipe.methods[1],
                                                                         student="layer_drop")))
    (err,) = cut.errors()
    assert str(err) == ("Step 2 · methods[1]: knowledge distillation cannot follow a masking step "
                        "(Step 1); move it before Step 1")


def test_a_workspace_variant_teaches_through_the_workspace(distilled):
    result, folder = distilled
    ws = folder.parent.parent
    recipe = Recipe.from_yaml(f"""
name: taught-by-a-variant
model: {{source: builtin, path: tiny-gpt}}
data: {{source: builtin, path: shakespeare}}
methods:
  - {{type: distill, student: as_loaded, teacher: {{source: variant, path: {result.run_id}}}}}
train: {{epochs: 1, batch_size: 8, lr: 0.001}}
""")
    again = Job(_short(recipe, steps=2), workspace=ws).run()
    assert again.ok, again.error
    step = again.card["steps"][0]
    assert step["teacher_params"] == result.card["model"]["params"]  # the 2-block variant
    assert step["teacher"].startswith(f"variant {result.card['name']} ({result.run_id})")
