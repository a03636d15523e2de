"""Every recipe in assets/recipes/ loads and validates; the tiny ones run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.job import Job
from engine.recipe import Recipe
from engine.registry import method_type_name
from tests.engine.conftest import shipped_small

RECIPES = sorted((Path(__file__).resolve().parents[2] / "assets" / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_and_validates(path):
    recipe = Recipe.load(path).validate()
    assert Recipe.from_yaml(recipe.to_yaml()) == recipe  # round-trips


def test_every_pruning_method_has_a_recipe():
    shipped = {method_type_name(m) for p in RECIPES for m in Recipe.load(p).methods}
    assert {"unstructured_prune", "nm_prune", "structured_prune"} <= shipped
    kinds = {(m.criterion, m.mode, m.schedule) for p in RECIPES for m in Recipe.load(p).methods
             if method_type_name(m) == "unstructured_prune"}
    assert {c for c, _, _ in kinds} == {"magnitude", "random", "taylor"}
    assert {s for _, _, s in kinds} == {"oneshot", "iterative", "gradual"}
    assert "threshold" in {m for _, m, _ in kinds}


@pytest.mark.parametrize("stem", ["tiny-gpt-taylor", "tiny-gpt-threshold", "tiny-gpt-iterative"])
def test_tiny_recipes_run(stem, tmp_path):
    recipe = Recipe.load(next(p for p in RECIPES if p.stem == stem))
    recipe = shipped_small(recipe, max_samples=200, steps=9)
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    sparsity = result.card["sparsity"]["overall"]
    assert 0.05 < sparsity < 0.95
    if stem != "tiny-gpt-threshold":
        assert sparsity == pytest.approx(recipe.methods[0].amount, abs=0.005)
