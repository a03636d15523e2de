"""The fine-tuning loop minimises a training objective (engine/train/objective.py).

The loop calls `objective.loss(module, batch)`, takes backward of what it returns and
emits each named part as `train/loss/<name>`; the task loss is the default objective; a
method step supplies its own through MethodResult.objective (the distillation seam).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import pytest
import torch

from engine import registry
from engine.context import JobContext, JobControl
from engine.data import load_data
from engine.events import Metric
from engine.job import Job
from engine.methods.base import MethodResult
from engine.metrics_log import METRICS_FILE, read_metrics
from engine.models.builtin import build_tiny_module
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec, Recipe, TrainConfig
from engine.train.forward import forward_loss, to_device
from engine.train.loop import fine_tune, make_loader
from engine.train.objective import PART_PREFIX, TaskLoss, build_objective

CPU = torch.device("cpu")
CFG = TrainConfig(max_steps=4, batch_size=4, lr=1e-3, eval_every=10**6, eval_batches=1, log_every=2)


class LogitPenalty:
    """Task loss + 0.1 * mean squared logit, with both parts named; counts its calls."""

    def __init__(self, base):
        self.base, self.calls = base, 0

    def loss(self, module, batch):
        self.calls += 1
        task, _ = self.base.loss(module, batch)
        logits = module(batch["input_ids"], batch["attention_mask"])
        penalty = logits.pow(2).mean()
        return task + 0.1 * penalty, {"task": task.detach(), "logit_l2": penalty.item()}


@pytest.fixture(scope="module")
def lm():
    """A small tiny-gpt (2 layers, width 32) and a few Shakespeare blocks of 16 tokens."""
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=16, max_samples=40), loaded)
    module = build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 2, "n_head": 2})
    return module, data


def _train(module, data, objective=None, cfg=CFG):
    events: list = []
    fine_tune(module, "causal-lm", data.train, data.val, cfg, JobContext(events.append, JobControl()),
              CPU, objective=objective)  # fmt: skip
    return [(e.name, e.step, e.value) for e in events if isinstance(e, Metric)]


def test_the_loop_minimises_the_objective_and_emits_each_part(lm):
    module, data = lm
    objective = LogitPenalty(TaskLoss("causal-lm"))
    penalised = copy.deepcopy(module)
    metrics = _train(penalised, data, objective)
    assert objective.calls == CFG.max_steps
    at = {(n, s): v for n, s, v in metrics}
    for step in (2, 4):
        # each part is the window's mean, as train/loss is, so the total is their weighted sum
        total = at[(PART_PREFIX + "task", step)] + 0.1 * at[(PART_PREFIX + "logit_l2", step)]
        assert at[("train/loss", step)] == pytest.approx(total, rel=1e-5)
    names = [n for n, s, _ in metrics if s == 2]
    assert names[:3] == ["train/loss", "train/loss/task", "train/loss/logit_l2"]
    # the gradient came from the objective: the same run on the task loss ends elsewhere
    plain = copy.deepcopy(module)
    _train(plain, data)
    assert not torch.equal(plain.lm_head.weight, penalised.lm_head.weight)


def test_the_task_objective_is_the_default_and_has_no_parts(lm):
    module, data = lm
    before = copy.deepcopy(module)
    cfg = dataclasses.replace(CFG, max_steps=1, log_every=1)
    trained = copy.deepcopy(module)
    metrics = _train(trained, data, cfg=cfg)
    assert not [n for n, _, _ in metrics if n.startswith(PART_PREFIX)]
    first = next(iter(make_loader(data.train, cfg.batch_size, True, cfg.seed)))
    before.train()
    expected, _ = forward_loss(before, to_device(first, CPU), "causal-lm")
    (loss,) = [v for n, s, v in metrics if n == "train/loss" and s == 1]
    assert loss == pytest.approx(expected.item(), rel=1e-6)


def test_factories_wrap_the_task_loss_in_recipe_order(lm):
    module, data = lm
    batch = next(iter(make_loader(data.train, 4, False, 0)))
    seen: list[str] = []

    @dataclass
    class Named:
        base: object
        name: str

        def loss(self, module, batch):
            loss, parts = self.base.loss(module, batch)
            seen.append(self.name)
            return loss * 2, {**parts, self.name: loss.detach()}

    objective = build_objective("causal-lm", [lambda b: Named(b, "first"), lambda b: Named(b, "second")])
    with torch.no_grad():
        loss, parts = objective.loss(module, batch)
        task, _ = TaskLoss("causal-lm").loss(module, batch)
    assert seen == ["first", "second"] and list(parts) == ["first", "second"]
    assert loss.item() == pytest.approx(4 * task.item(), rel=1e-6)
    assert parts["second"].item() == pytest.approx(2 * task.item(), rel=1e-6)
    assert build_objective("classification") == TaskLoss("classification")


@dataclass(frozen=True)
class HalfLossConfig:
    """A test step whose only effect is on what training minimises."""


def _half_loss(cfg, ctx):
    class Half:
        def __init__(self, base):
            self.base = base

        def loss(self, module, batch):
            loss, parts = self.base.loss(module, batch)
            return 0.5 * loss, {**parts, "half": (0.5 * loss).detach()}

    return MethodResult(objective=Half)


def test_a_method_step_supplies_the_objective_of_the_job(tmp_path, monkeypatch):
    registry.methods()  # discovery first, so the test entry is not overwritten by it
    entry = registry.MethodEntry("test_half_loss", "distill", "half loss", HalfLossConfig, _half_loss)
    monkeypatch.setitem(registry._METHODS, "test_half_loss", entry)
    recipe = Recipe.from_yaml("""
name: half
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 40}
methods: [{type: test_half_loss}]
train: {epochs: 1, max_steps: 2, batch_size: 4, eval_every: 100, log_every: 1}
export: {enabled: false}
""")
    events: list = []
    result = Job(recipe, [events.append], workspace=tmp_path).run()
    assert result.ok, result.error
    loss = {e.step: e.value for e in events if isinstance(e, Metric) and e.name == "train/loss"}
    half = {e.step: e.value for e in events if isinstance(e, Metric) and e.name == "train/loss/half"}
    assert sorted(half) == [1, 2] and half == pytest.approx(loss)
    # the parts are in the run's metrics file too: past runs can plot them
    log = read_metrics(tmp_path / "runs" / result.run_id / METRICS_FILE)
    assert list(log.series["train/loss/half"][1]) == pytest.approx([half[1], half[2]])
