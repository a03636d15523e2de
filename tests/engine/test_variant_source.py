"""`source: variant` loads through load_model's registry, for every page and the CLI alike."""

from __future__ import annotations

import pytest
import torch

from engine.models.checkpoint import save_model
from engine.models.loaders import MODEL_LOADERS, load_model
from engine.models.types import ModelLoadError
from engine.models.variant_source import resolve_variant
from engine.recipe import ModelSpec, Recipe
from engine.store import Workspace

PRUNED = "name: halved\nmodel: {source: builtin, path: tiny-gpt}\nmethods:\n  - {type: unstructured_prune, amount: 0.5}\n"
BASELINE = "name: base\nmodel: {source: builtin, path: tiny-gpt}\n"


def make_variant(ws: Workspace, recipe_yaml: str, zero_first: bool = True) -> str:
    """A finished variant with a real checkpoint whose first Linear weight is all zeros."""
    name = Recipe.from_yaml(recipe_yaml).name
    run = ws.new_run(name, recipe_yaml)
    loaded = load_model(ModelSpec())
    if zero_first:
        first = next(m for m in loaded.module.modules() if isinstance(m, torch.nn.Linear))
        with torch.no_grad():
            first.weight.zero_()
    save_model(loaded, ws.run_dir(run.id) / "checkpoint")
    ws.finish(run.id, {"id": run.id, "files": {"checkpoint": "checkpoint"}})
    return run.id


def test_variant_is_a_registered_source_and_loads_its_checkpoint(tmp_path):
    assert "variant" in MODEL_LOADERS
    ws = Workspace(tmp_path / "ws")
    run_id = make_variant(ws, PRUNED)
    for name in ("halved", run_id):
        loaded = load_model(ModelSpec(source="variant", path=name), workspace=ws)
        first = next(m for m in loaded.module.modules() if isinstance(m, torch.nn.Linear))
        assert int(first.weight.count_nonzero()) == 0  # the variant's weights, not a fresh model
        assert loaded.task == "causal-lm" and "halved" in loaded.description


def test_a_baseline_without_checkpoint_reloads_its_source_with_the_callers_trust(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = ws.new_run("base", BASELINE.replace("tiny-gpt}", "tiny-gpt, trust: true}"))
    ws.finish(run.id, {"id": run.id})
    resolved, v = resolve_variant(ModelSpec(source="variant", path="base"), ws)
    assert v.id == run.id
    assert (resolved.source, resolved.path) == ("builtin", "tiny-gpt")
    assert resolved.trust is False  # a stored recipe never grants trust


def test_variant_errors_are_one_line_naming_the_fix(tmp_path):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(ModelLoadError, match="none is open"):
        load_model(ModelSpec(source="variant", path="halved"))
    with pytest.raises(ModelLoadError, match="no finished variant named or numbered 'nope'"):
        load_model(ModelSpec(source="variant", path="nope"), workspace=ws)
    run = ws.new_run("halved", PRUNED)
    ws.finish(run.id, {"id": run.id})  # no checkpoint folder was written
    with pytest.raises(ModelLoadError, match="has no checkpoint folder"):
        load_model(ModelSpec(source="variant", path="halved"), workspace=ws)


def test_a_variant_description_counts_its_own_parameters():
    """A structured variant is smaller than its source: the line must not repeat the old count."""
    from engine.models.variant_source import variant_description

    line = variant_description(
        "ffn50", "r1", "tiny-gpt: GPT-style causal LM, 4 layers, d=128, 0.88M params, pretrained", 612_608
    )
    assert "0.88M" not in line and "0.61M params" in line
    assert line.startswith("variant ffn50 (r1)") and "pretrained" in line
