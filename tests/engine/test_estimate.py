"""The live estimate applies the steps to a copy: it equals what a real run reaches."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.estimate import StepsEstimate, estimate_steps
from engine.job import Job
from engine.methods.prune.nm import NMPruneConfig
from engine.methods.prune.structured import StructuredPruneConfig
from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ExportConfig, ModelSpec, TrainConfig
from tests.engine.conftest import tiny_recipe

STACKS = {
    "unstructured+2:4": (UnstructuredPruneConfig(amount=0.5, scope="global"), NMPruneConfig()),
    "structured+unstructured": (StructuredPruneConfig(amount=0.5),
                                UnstructuredPruneConfig(amount=0.6, scope="layer")),
    "heads+ffn+2:4": (StructuredPruneConfig(target="heads", amount=0.5),
                      StructuredPruneConfig(target="ffn", amount=0.25), NMPruneConfig()),
}


def _tiny_gpt():
    return load_model(ModelSpec(path="tiny-gpt"))


@pytest.mark.parametrize("name", list(STACKS))
def test_estimate_equals_the_real_run(name, tmp_path):
    methods = STACKS[name]
    loaded = _tiny_gpt()
    est = estimate_steps(loaded.module, methods, task=loaded.task)
    recipe = tiny_recipe(methods=methods, data=DataSpec(source="none"),
                         train=TrainConfig(epochs=0), export=ExportConfig(enabled=False))
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    card = result.card
    assert [s.error for s in est.steps] == [""] * len(methods)
    assert est.dense_params == card["model"]["params_before"]
    assert est.steps[-1].params == card["model"]["params"]
    assert est.steps[-1].nonzero == card["model"]["nonzero_params"]
    assert est.steps[-1].sparsity == pytest.approx(card["sparsity"]["overall"])
    for mine, real in zip(est.steps, card["steps"], strict=True):
        assert (mine.params, mine.nonzero) == (real["params"], real["nonzero"])
        assert mine.sparsity == pytest.approx(real["sparsity"])


def test_the_estimate_never_touches_the_given_model():
    loaded = _tiny_gpt()
    before = {k: v.clone() for k, v in loaded.module.state_dict().items()}
    estimate_steps(loaded.module, STACKS["heads+ffn+2:4"], task=loaded.task)
    after = loaded.module.state_dict()
    assert list(after) == list(before)  # no weight_orig / weight_mask left behind
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_targeted_layers_never_exceed_the_model_and_counts_are_not_summed():
    loaded = _tiny_gpt()
    layers = sum(isinstance(m, nn.Linear) for m in loaded.module.modules())
    methods = (UnstructuredPruneConfig(amount=0.3), UnstructuredPruneConfig(amount=0.3),
               NMPruneConfig())
    est = estimate_steps(loaded.module, methods, task=loaded.task)
    assert all(0 < s.targeted_layers <= layers for s in est.steps)
    # 30% then 30% of the rest then 2:4 of what is left: never 0 non-zeros, never above dense
    nonzeros = [s.nonzero for s in est.steps]
    assert nonzeros == sorted(nonzeros, reverse=True) and nonzeros[-1] > 0
    assert est.steps[1].sparsity == pytest.approx(1 - 0.7 * 0.7, abs=0.002)


def test_the_text_says_what_it_counts():
    loaded = _tiny_gpt()
    shrink = estimate_steps(loaded.module, (StructuredPruneConfig(amount=0.5),), task=loaded.task)
    assert shrink.text().startswith("Parameters after the steps: ")
    assert shrink.steps[0].params < shrink.dense_params
    both = estimate_steps(loaded.module, STACKS["structured+unstructured"], task=loaded.task)
    text = both.text()
    assert text.startswith("Non-zero parameters after pruning: ") and "876K" in text
    cut = 1 - both.steps[-1].nonzero / both.dense_nonzero
    assert 0.5 < cut < 0.9 and f"−{cut:.1%}" in text  # not "0 of 876K, −100%"
    assert StepsEstimate(10, []).text() == "Parameters: 10 (no step yet)"


def test_a_refused_step_carries_the_engines_reason_and_later_steps_still_estimate():
    loaded = _tiny_gpt()
    methods = (UnstructuredPruneConfig(amount=0.5), StructuredPruneConfig(), NMPruneConfig(m=7))
    est = estimate_steps(loaded.module, methods, task=loaded.task)
    assert est.steps[0].error == ""
    assert "cannot follow a masking step (Step 1)" in est.steps[1].error
    assert "divisible by 7" in est.steps[2].error
    assert est.text().startswith("No estimate: Step 2 cannot be applied here: structured")
    assert est.steps[1].nonzero == est.steps[0].nonzero  # the refused step changed nothing


def test_taylor_steps_estimate_without_data():
    loaded = _tiny_gpt()
    methods = (StructuredPruneConfig(importance="taylor"), UnstructuredPruneConfig(criterion="taylor"))
    est = estimate_steps(loaded.module, methods, task=loaded.task)
    assert [s.error for s in est.steps] == ["", ""]
    assert est.steps[1].sparsity == pytest.approx(0.5, abs=0.001)


def test_a_schedule_ends_where_the_estimate_says(tmp_path):
    methods = (NMPruneConfig(), UnstructuredPruneConfig(amount=0.5, schedule="gradual", update_every=1))
    loaded = _tiny_gpt()
    est = estimate_steps(loaded.module, methods, task=loaded.task)
    recipe = tiny_recipe(methods=methods, export=ExportConfig(enabled=False),
                         train=TrainConfig(epochs=1, max_steps=4, batch_size=4, eval_every=4))
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    # the gradual step starts at 0% (card["steps"]) and reaches its amount by the end
    assert result.card["steps"][1]["sparsity"] == pytest.approx(0.5, abs=0.001)
    assert result.card["steps"][1]["final_target"] == 0.5
    assert est.steps[1].sparsity == pytest.approx(0.75, abs=0.001)
    assert result.card["sparsity"]["overall"] == pytest.approx(est.steps[1].sparsity, abs=1e-6)
