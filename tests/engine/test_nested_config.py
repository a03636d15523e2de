"""A method config may hold another config (a teacher ModelSpec): it coerces from a recipe
mapping, validates with field paths through it, round-trips YAML and is never trusted."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine import registry
from engine.config_fields import ConfigError, config_from_dict, option, validate_config
from engine.recipe import ModelSpec, Recipe


@dataclass(frozen=True)
class TeacherStepConfig:
    teacher: ModelSpec = option(ModelSpec(source="builtin", path="tiny-gpt"), help="the teacher")
    temperature: float = option(2.0, min=0.0, min_exclusive=True, help="softmax temperature")


@pytest.fixture
def teacher_step(monkeypatch):
    """A registered test step holding a nested ModelSpec (removed again after the test)."""
    registry.methods()  # discovery first, so the test entry is not overwritten by it
    entry = registry.MethodEntry("test_teacher", "distill", "teacher step", TeacherStepConfig,
                                 lambda cfg, ctx: None)  # fmt: skip
    monkeypatch.setitem(registry._METHODS, "test_teacher", entry)


RECIPE = """
name: nested
model: {source: builtin, path: tiny-gpt}
methods:
  - type: test_teacher
    teacher: {source: checkpoint, path: runs/teacher/checkpoint, trust: true}
    temperature: 4
"""


def test_a_nested_mapping_becomes_the_nested_config(teacher_step):
    recipe = Recipe.from_yaml(RECIPE)
    step = recipe.methods[0]
    assert step.teacher == ModelSpec(source="checkpoint", path="runs/teacher/checkpoint", trust=True)
    assert step.temperature == 4.0 and isinstance(step.temperature, float)
    assert recipe.errors() == []
    assert Recipe.from_yaml(RECIPE.replace("    teacher: {source: checkpoint, path: runs/teacher/checkpoint, trust: true}\n", "")
                            ).methods[0].teacher == ModelSpec(source="builtin", path="tiny-gpt")


def test_errors_name_the_path_through_the_nested_config(teacher_step):
    bad = Recipe.from_yaml(RECIPE.replace("source: checkpoint", "source: ftp"))
    (err,) = bad.errors()
    assert err.path == "methods[0].teacher.source" and "must be one of builtin" in err.message
    empty = Recipe.from_yaml(RECIPE.replace("path: runs/teacher/checkpoint", "path: ' '"))
    assert [e.path for e in empty.errors()] == ["methods[0].teacher.path"]  # its extra_checks too
    with pytest.raises(ConfigError) as exc:
        Recipe.from_yaml(RECIPE.replace("source: checkpoint", "sorce: checkpoint"))
    assert exc.value.errors[0].path == "methods[0].teacher.sorce"
    assert "unknown setting" in exc.value.errors[0].message
    with pytest.raises(ConfigError) as exc:
        config_from_dict(TeacherStepConfig, {"teacher": "gpt2"}, "methods[0]")
    assert exc.value.errors[0].path == "methods[0].teacher"
    assert "mapping of settings" in exc.value.errors[0].message
    wrong = TeacherStepConfig(teacher="gpt2")  # built in code, not from a mapping
    assert [(e.path, "mapping" in e.message) for e in validate_config(wrong, "m")] == [("m.teacher", True)]


def test_yaml_round_trip_keeps_the_nested_config(teacher_step):
    recipe = Recipe.from_yaml(RECIPE)
    text = recipe.to_yaml()
    assert "teacher:" in text and "source: checkpoint" in text and "task:" not in text  # changes only
    assert Recipe.from_yaml(text) == recipe
    assert Recipe.from_yaml(recipe.to_yaml(full=True)) == recipe
    plain = Recipe.from_yaml(RECIPE.replace(
        "    teacher: {source: checkpoint, path: runs/teacher/checkpoint, trust: true}\n", ""))
    assert "teacher:" not in plain.to_yaml()  # the default teacher is not written


def test_a_recipe_read_back_from_a_workspace_trusts_no_nested_model(teacher_step):
    recipe = Recipe.from_yaml(RECIPE)
    assert recipe.methods[0].teacher.trust
    again = recipe.untrusted()
    assert not again.methods[0].teacher.trust and not again.model.trust
    assert again.methods[0].teacher.path == "runs/teacher/checkpoint"
