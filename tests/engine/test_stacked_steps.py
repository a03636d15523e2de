"""Stacked method steps compose: masks combine, refused orders are form errors, steps are reported."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.config_fields import ConfigError
from engine.job import Job
from engine.methods.base import MethodContext
from engine.methods.prune.masks import effective_weight, overall_sparsity
from engine.methods.prune.nm import NMPruneConfig, apply_nm
from engine.methods.prune.structured import StructuredPruneConfig
from engine.methods.prune.unstructured import UnstructuredPruneConfig, apply_unstructured
from engine.models.loaders import load_model
from engine.recipe import ExportConfig, ModelSpec, Recipe, TrainConfig
from tests.engine.conftest import tiny_recipe


def _tiny_gpt() -> nn.Module:
    return load_model(ModelSpec(path="tiny-gpt")).module


def _linears(module: nn.Module, names: list[str]) -> dict[str, nn.Module]:
    mods = dict(module.named_modules())
    return {n: mods[n] for n in names}


def _zeros(layers: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {n: effective_weight(m) == 0 for n, m in layers.items()}


def test_unstructured_then_2_4_keeps_every_earlier_zero_and_adds_its_own():
    module = _tiny_gpt()
    first = apply_unstructured(UnstructuredPruneConfig(amount=0.5, scope="global"),
                               MethodContext(module, "causal-lm"))
    layers = _linears(module, first.targets)
    after_first = _zeros(layers)
    second = apply_nm(NMPruneConfig(n=2, m=4), MethodContext(module, "causal-lm"))
    assert second.targets == first.targets
    for name, layer in layers.items():
        w = effective_weight(layer)
        assert (w[after_first[name]] == 0).all(), f"{name}: step 2 revived a step-1 zero"
        groups = (w != 0).reshape(w.shape[0], -1, 4).sum(-1)
        assert (groups <= 2).all(), f"{name}: a group keeps more than 2 of 4"
    combined = overall_sparsity(module, first.targets)
    assert combined > 0.55  # the bug ended at exactly 0.5: step 2 replaced step 1's mask
    per_layer = list(second.layer_sparsity.values())
    assert not all(v == pytest.approx(0.5) for v in per_layer)
    assert all(v >= 0.5 for v in per_layer)


def test_second_unstructured_step_takes_its_amount_of_the_survivors():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(40, 50), nn.ReLU(), nn.Linear(50, 20))
    apply_unstructured(UnstructuredPruneConfig(amount=0.5, scope="layer"), MethodContext(net, "generic"))
    res = apply_unstructured(UnstructuredPruneConfig(amount=0.5, scope="layer"),
                             MethodContext(net, "generic"))
    # torch.nn.utils.prune's PruningContainer rule: 50% of the 50% left -> 75% in each layer
    assert res.layer_sparsity == {"0": pytest.approx(0.75), "2": pytest.approx(0.75)}


def test_a_schedule_after_a_masking_step_keeps_its_zeros_through_every_round():
    module = _tiny_gpt()
    nm = apply_nm(NMPruneConfig(n=2, m=4), MethodContext(module, "causal-lm"))
    layers = _linears(module, nm.targets)
    nm_zeros = _zeros(layers)
    cfg = UnstructuredPruneConfig(amount=0.5, scope="global", schedule="iterative", rounds=3)
    res = apply_unstructured(cfg, MethodContext(module, "causal-lm", total_steps=9))
    (hook,) = res.hooks
    seen = [overall_sparsity(module, nm.targets)]
    before = _zeros(layers)
    for step in range(1, 10):
        hook.on_step(step)
        now = _zeros(layers)
        for name in layers:
            assert (now[name][before[name]]).all(), f"{name}: a round revived a zero"
            assert (now[name][nm_zeros[name]]).all()
        before = now
        seen.append(overall_sparsity(module, nm.targets))
    # each round removes its share of what the 2:4 step left: 1/2 + 1/2 * 0.5 at the end
    assert seen[0] == pytest.approx(0.5 + 0.5 * 0.5 / 3, abs=1e-3)
    assert seen[-1] == pytest.approx(0.75, abs=1e-3)
    assert seen == sorted(seen)


def test_structured_after_a_masking_step_is_a_recipe_error_naming_both_steps():
    r = Recipe(methods=(UnstructuredPruneConfig(), StructuredPruneConfig()))
    errs = r.errors()
    assert [e.path for e in errs] == ["methods[1]"]
    assert str(errs[0]) == ("Step 2 · methods[1]: structured pruning cannot follow a masking "
                            "step (Step 1); move it before Step 1")
    ok = Recipe(methods=(StructuredPruneConfig(), StructuredPruneConfig(target="heads"),
                         UnstructuredPruneConfig(), NMPruneConfig()))
    assert ok.errors() == []


def test_a_scheduled_masking_step_must_be_the_last_masking_step():
    gradual = UnstructuredPruneConfig(schedule="gradual")
    errs = Recipe(methods=(gradual, NMPruneConfig())).errors()
    assert [e.path for e in errs] == ["methods[0].schedule"]
    assert str(errs[0]).startswith("Step 1 · methods[0].schedule: a gradual schedule keeps "
                                   "changing masks")
    assert "Step 2" in errs[0].message
    assert Recipe(methods=(NMPruneConfig(), gradual)).errors() == []


def test_every_step_error_names_the_step_as_the_form_does():
    r = Recipe(methods=(UnstructuredPruneConfig(), UnstructuredPruneConfig(amount=1.5)))
    with pytest.raises(ConfigError) as info:
        r.validate()
    assert str(info.value) == "Step 2 · methods[1].amount: must be in [0, 1), got 1.5"
    assert str(Recipe(name="").errors()[0]) == "name: is empty; give the variant a name"


def test_refused_order_stops_a_job_before_anything_is_registered(tmp_path):
    recipe = tiny_recipe(methods=(UnstructuredPruneConfig(), StructuredPruneConfig()),
                         export=ExportConfig(enabled=False))
    result = Job(recipe, workspace=tmp_path).run()
    assert not result.ok
    assert "Step 2 · methods[1]: structured pruning cannot follow" in result.error


def test_a_run_reports_what_each_step_reached(tmp_path):
    recipe = tiny_recipe(
        methods=(StructuredPruneConfig(amount=0.25), UnstructuredPruneConfig(amount=0.5),
                 NMPruneConfig()),
        train=TrainConfig(epochs=1, max_steps=2, batch_size=4, eval_every=2, log_every=1),
        export=ExportConfig(enabled=False),
    )
    logs: list[str] = []
    result = Job(recipe, [lambda e: logs.append(getattr(e, "message", ""))], workspace=tmp_path).run()
    assert result.ok, result.error
    steps = result.card["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert steps[0]["sparsity"] == 0.0  # a structured cut leaves no zeros, it shrinks
    assert steps[0]["params"] < result.card["model"]["params_before"]
    assert steps[0]["params"] == steps[1]["params"] == steps[2]["params"]
    assert steps[1]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert steps[2]["sparsity"] > steps[1]["sparsity"] + 0.05
    assert steps[2]["nonzero"] < steps[1]["nonzero"] < steps[0]["nonzero"]
    assert result.card["model"]["nonzero_params"] == steps[2]["nonzero"]  # masks held in training
    assert any(line.startswith("Step 3 · N:M semi-structured pruning 2:4: sparsity") for line in logs)
