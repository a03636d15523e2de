"""Recipe validation messages and YAML round trip."""

from pathlib import Path

import pytest
import yaml

from engine.config_fields import ConfigError
from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.recipe import Recipe, TrainConfig

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "recipes"


def test_demo_recipe_loads_and_round_trips():
    r = Recipe.load(ASSETS / "demo.yaml").validate()
    assert r.model.path == "tiny-gpt"
    assert isinstance(r.methods[0], UnstructuredPruneConfig)
    assert r.methods[0].amount == 0.5
    again = Recipe.from_yaml(r.to_yaml())
    assert again == r


@pytest.mark.parametrize("path", sorted(ASSETS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_is_valid(path):
    Recipe.load(path).validate()


def test_amount_out_of_range_names_field_and_range():
    r = Recipe(methods=(UnstructuredPruneConfig(amount=1.5),))
    with pytest.raises(ConfigError) as info:
        r.validate()
    assert str(info.value) == "Step 1 · methods[0].amount: must be in [0, 1), got 1.5"


def test_amount_one_is_rejected_zero_accepted():
    assert Recipe(methods=(UnstructuredPruneConfig(amount=1.0),)).errors()
    assert not Recipe(methods=(UnstructuredPruneConfig(amount=0.0),)).errors()


def test_bad_choice_and_type_messages():
    r = Recipe.from_yaml("methods: [{type: magnitude_prune, scope: diagonal}]\ntrain: {batch_size: 'x'}")
    msgs = [str(e) for e in r.errors()]
    assert "Step 1 · methods[0].scope: must be one of global, layer, got 'diagonal'" in msgs
    assert "train.batch_size: must be a whole number, got 'x'" in msgs


def test_unknown_keys_and_methods_are_named():
    with pytest.raises(ConfigError, match=r"train.learning_rate: unknown setting; known settings: .*lr"):
        Recipe.from_yaml("train: {learning_rate: 0.1}")
    with pytest.raises(ConfigError, match=r"unknown method 'prune_everything'; known methods: .*nm_prune.*unstructured_prune"):
        Recipe.from_yaml("methods: [{type: prune_everything}]")
    with pytest.raises(ConfigError, match="unknown section"):
        Recipe.from_yaml("trainer: {}")


def test_scientific_notation_strings_become_floats():
    r = Recipe.from_yaml("train: {lr: 1e-3}")
    assert r.train.lr == pytest.approx(1e-3)


def test_broken_yaml_is_one_line():
    with pytest.raises(ConfigError) as info:
        Recipe.from_yaml("model: [unclosed")
    assert "not valid YAML" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(ConfigError, match="recipe file not found"):
        Recipe.load(tmp_path / "nope.yaml")


def test_defaults_are_valid_and_lists_become_tuples():
    r = Recipe.from_yaml("methods: [{type: magnitude_prune, include: ['*.mlp.*']}]")
    assert r.methods[0].include == ("*.mlp.*",)
    assert not r.errors()
    assert TrainConfig().lr > 0


def test_saved_recipe_holds_what_the_user_set_and_round_trips():
    from engine.methods.prune.nm import NMPruneConfig

    r = Recipe(name="mine", methods=(UnstructuredPruneConfig(amount=0.3, schedule="gradual"),
                                     NMPruneConfig()),
               train=TrainConfig(epochs=2))
    text = r.to_yaml()
    assert yaml.safe_load(text) == {
        "name": "mine",
        "model": {"source": "builtin", "path": "tiny-gpt"},
        "data": {"source": "builtin", "path": "shakespeare"},
        "methods": [{"type": "unstructured_prune", "amount": 0.3, "schedule": "gradual"},
                    {"type": "nm_prune"}],
        "train": {"epochs": 2},
    }
    assert "exclude" not in text and "export" not in text and "update_every" not in text
    assert Recipe.from_yaml(text) == r
    full = r.to_dict(full=True)  # a run's record keeps every setting it used
    assert full["export"]["opset"] == 18 and "exclude" in full["methods"][0]
    assert Recipe.from_dict(full) == r


@pytest.mark.parametrize("path", sorted(ASSETS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_round_trip_through_the_short_form(path):
    r = Recipe.load(path)
    assert Recipe.from_yaml(r.to_yaml()) == r
    assert len(r.to_yaml()) <= len(r.to_yaml(full=True))
