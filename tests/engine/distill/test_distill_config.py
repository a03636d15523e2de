"""The distill step's settings: the teacher shorthand, recipe-level refusals, model checks."""

from __future__ import annotations

import pytest

from engine.config_fields import ConfigError
from engine.methods.distill.distill import check_distill, describe_distill
from engine.methods.distill.distill_config import DistillConfig
from engine.models.builtin import load_builtin
from engine.recipe import ModelSpec, Recipe

RECIPE = """
name: d
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare}
methods:
  - STEP
train: {epochs: 1, max_steps: 4}
"""


def recipe(step: str, **swaps: str) -> Recipe:
    text = RECIPE.replace("STEP", step)
    for old, new in swaps.items():
        text = text.replace(old, new)
    return Recipe.from_yaml(text)


def test_teacher_parent_is_the_default_and_a_spec_in_place_means_teacher_model():
    assert recipe("{type: distill}").methods[0].teacher == "parent"
    assert recipe("{type: distill, teacher: parent}").methods[0] == DistillConfig()
    step = recipe("{type: distill, teacher: {source: checkpoint, path: runs/x/checkpoint}}").methods[0]
    assert step.teacher == "model"
    assert step.teacher_model == ModelSpec(source="checkpoint", path="runs/x/checkpoint")
    again = Recipe.from_yaml(recipe(f"{{type: distill, teacher: {{source: hf, path: {'t'}}}}}").to_yaml())
    assert again.methods[0].teacher_model.source == "hf"  # round-trips as teacher: model + spec
    with pytest.raises(ConfigError) as exc:
        recipe("{type: distill, teacher: {source: hf, pth: t}}")
    assert exc.value.errors[0].path == "methods[0].teacher_model.pth"
    bad = recipe("{type: distill, teacher: teacher}").errors()
    assert [e.path for e in bad] == ["methods[0].teacher"] and "parent, model" in bad[0].message


@pytest.mark.parametrize(("step", "path", "words"), [
    ("{type: distill, alpha: -0.1}", "methods[0].alpha", "[0, 1]"),
    ("{type: distill, temperature: 0}", "methods[0].temperature", "(0, 100]"),
    ("{type: distill, keep_layers: [1, 1]}", "methods[0].keep_layers", "twice"),
    ("{type: distill, student: as_loaded}", "methods[0].student", "the student the teacher"),
])
def test_settings_no_run_could_use_are_recipe_errors(step, path, words):
    (err,) = recipe(step).errors()
    assert err.path == path and words in err.message


def test_a_distill_step_needs_data_and_training():
    (err,) = recipe("{type: distill}", **{"epochs: 1": "epochs: 0"}).errors()
    assert "train.epochs" in err.message
    (err,) = recipe("{type: distill}", **{"source: builtin, path: shakespeare": "source: none"}).errors()
    assert "needs data" in err.message
    # an as_loaded student of its parent is fine once an earlier step changed the model
    ok = recipe("{type: structured_prune, amount: 0.5}\n  - {type: distill, student: as_loaded}")
    assert ok.errors() == []


def test_model_checks_name_the_block_counts():
    gpt = load_builtin("tiny-gpt", None).module  # 4 blocks
    assert check_distill(DistillConfig(), gpt) == []
    assert "keeps all 4" in check_distill(DistillConfig(keep_layers=(0, 1, 2, 3)), gpt)[0]
    assert "0..3" in check_distill(DistillConfig(keep_layers=(5,)), gpt)[0]
    assert "teacher's own size" in check_distill(DistillConfig(student="smaller", student_layers=4), gpt)[0]
    assert "more than" in check_distill(DistillConfig(student="smaller", student_layers=9), gpt)[0]
    mapped = DistillConfig(keep_layers=(0, 2), hidden_weight=1.0, layer_map=(0, 4))
    assert "layer_map" in check_distill(mapped, gpt)[0]
    assert check_distill(DistillConfig(student="as_loaded"), gpt) == []


def test_the_card_label_says_teacher_student_and_weights():
    label = describe_distill(DistillConfig(keep_layers=(0, 2), hidden_weight=1.0))
    assert label == "distill(parent → layer_drop [0, 2], α=0.5, T=2, hidden=1)"


def test_the_estimate_counts_the_student_a_step_builds():
    from engine.estimate import estimate_steps

    loaded = load_builtin("tiny-gpt", None)
    drop, smaller = DistillConfig(), DistillConfig(student="smaller", student_layers=1, width_factor=0.5)
    est = estimate_steps(loaded.module, [drop], loaded.example_inputs(), "causal-lm", True)
    assert est.steps[0].error == "" and est.steps[0].params == 479_232  # blocks 0 and 2 kept
    assert any("keeps blocks [0, 2] of the teacher's 4" in n for n in est.steps[0].notes)
    est = estimate_steps(loaded.module, [smaller], loaded.example_inputs(), "causal-lm", True)
    assert est.steps[0].params < 100_000  # the new 1-block, half-width model, not the teacher
    assert len(loaded.module.blocks) == 4  # the loaded model itself is untouched


def test_a_stored_recipe_grants_no_trust_to_the_teacher():
    stored = recipe("{type: distill, teacher: {source: torch, path: t.pt, trust: true}}")
    assert stored.methods[0].teacher_model.trust
    assert not stored.untrusted().methods[0].teacher_model.trust


def test_the_method_text_names_teacher_and_student_and_only_the_set_teacher_fields():
    from engine.report import method_label

    assert method_label(DistillConfig()) == "distill(teacher=parent, student=layer_drop)"
    step = DistillConfig(teacher="model", teacher_model=ModelSpec(source="variant", path="ft"))
    assert method_label(step) == ("distill(teacher=model, teacher_model={'source': 'variant', "
                                  "'path': 'ft'}, student=layer_drop)")


def test_layer_drop_hidden_states_learn_the_end_of_the_span_each_block_replaces():
    from engine.methods.distill.distill import _settings, segment_ends

    assert segment_ends([0, 2, 4], 6) == [1, 3, 5]
    assert segment_ends([0, 1, 5], 6) == [0, 4, 5]
    assert segment_ends([1, 3], 4) == [2, 3]
    layer_drop = DistillConfig(keep_layers=(0, 1), hidden_weight=1.0)
    assert _settings(layer_drop, [0, 1], 4).layer_map == (0, 3)
    mapped = DistillConfig(keep_layers=(0, 1), hidden_weight=1.0, layer_map=(1, 2))
    assert _settings(mapped, [0, 1], 4).layer_map == (1, 2)  # the user's map wins
    assert _settings(DistillConfig(student="smaller"), None, 4).layer_map is None  # even spacing
