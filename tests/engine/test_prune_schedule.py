"""Pruning schedules: the target curve, masks following it during fine-tuning, exact resume."""

from __future__ import annotations

import pytest
import torch

from engine.context import JobCancelled, JobContext, JobControl
from engine.data import load_data
from engine.events import Metric, WeightHistogram
from engine.job import Job
from engine.methods.base import MethodContext
from engine.methods.prune.schedule import SparsitySchedule
from engine.methods.prune.unstructured import UnstructuredPruneConfig, apply_unstructured
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ExportConfig, ModelSpec, TrainConfig
from engine.train.loop import fine_tune, total_steps
from tests.engine.conftest import run_cancelled_at, tiny_recipe


def test_gradual_is_zhu_gupta_cubic():
    s = SparsitySchedule("gradual", final=0.8, total_steps=100, initial=0.2, start=10, end=50, every=10)
    assert s.update_steps() == [10, 20, 30, 40, 50]
    assert s.target_at(0) == 0.2 and s.target_at(10) == pytest.approx(0.2)
    assert s.target_at(30) == pytest.approx(0.8 + (0.2 - 0.8) * 0.5**3)
    assert s.target_at(50) == 0.8 and s.target_at(99) == 0.8
    assert all(s.target_at(a) <= s.target_at(b) for a, b in zip(range(99), range(1, 100), strict=True))
    default_end = SparsitySchedule("gradual", final=0.5, total_steps=40, every=7)
    assert default_end.update_steps() == [7, 14, 21, 28, 30]  # ends at 75% of training


def test_iterative_rounds_and_oneshot():
    s = SparsitySchedule("iterative", final=0.9, total_steps=30, rounds=3)
    assert s.update_steps() == [10, 20]
    assert [s.target_at(t) for t in (0, 9, 10, 25)] == pytest.approx([0.3, 0.3, 0.6, 0.9])
    assert SparsitySchedule("oneshot", final=0.5, total_steps=30).update_steps() == []


def test_job_with_gradual_schedule_follows_its_target_curve(tmp_path):
    prune = UnstructuredPruneConfig(amount=0.6, schedule="gradual", update_every=4, end_step=16)
    events: list = []
    recipe = tiny_recipe(methods=(prune,), export=ExportConfig(enabled=False),
                         train=TrainConfig(max_steps=20, batch_size=8, eval_every=10, log_every=2))
    result = Job(recipe, [events.append], workspace=tmp_path).run()
    assert result.ok, result.error
    target = {e.step: e.value for e in events if isinstance(e, Metric) and e.name == "sparsity/target"}
    actual = {e.step: e.value for e in events if isinstance(e, Metric) and e.name == "sparsity/overall"}
    assert sorted(target) == [0, 4, 8, 12, 16]
    assert sorted(actual) == [0, 4, 8, 12, 16]  # masks changed at exactly the scheduled steps
    for step, value in target.items():
        assert actual[step] == pytest.approx(value, abs=0.005)
    assert target[0] == 0.0 and target[16] == 0.6 and target[4] < target[8] < target[12]
    assert result.card["sparsity"]["overall"] == pytest.approx(0.6, abs=0.005)  # held to the end
    hist = [e for e in events if isinstance(e, WeightHistogram)]
    layers = {e.layer for e in hist}
    assert {e.phase for e in hist} == {"before", "now"} and len(layers) == 16
    last = [e for e in hist if e.step == 16]
    assert sum(e.zeros for e in last) > 0 and all(len(e.edges) == len(e.counts) + 1 for e in last)


def _setup(seed: int = 0):
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=32, max_samples=120), loaded)
    cfg = TrainConfig(max_steps=12, batch_size=8, eval_every=100, log_every=4, checkpoint_every=6)
    steps = total_steps(len(data.train), cfg)
    prune = UnstructuredPruneConfig(amount=0.7, schedule="gradual", update_every=3, end_step=10)
    res = apply_unstructured(prune, MethodContext(loaded.module, loaded.task, data=data,
                                                  total_steps=steps, batch_size=8))
    return loaded.module, data, cfg, res


def _masks(module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if k.endswith("weight_mask")}


def test_resume_mid_schedule_gives_the_same_masks_and_weights(tmp_path):
    cpu = torch.device("cpu")
    # uninterrupted
    module_a, data, cfg, res_a = _setup()
    fine_tune(module_a, "causal-lm", data.train, data.val, cfg, JobContext(lambda e: None, JobControl()),
              cpu, hooks=res_a.hooks, state_path=tmp_path / "a.pt")
    # stopped after the checkpoint at step 6 (mid-schedule: updates at 3, 6, 9, 10)
    module_b, _, _, res_b = _setup()
    control = JobControl()

    def stop_after_6(event):
        if isinstance(event, Metric) and event.name == "train/loss" and event.step >= 8:
            control.cancel()

    state = tmp_path / "b.pt"
    with pytest.raises(JobCancelled):
        fine_tune(module_b, "causal-lm", data.train, data.val, cfg, JobContext(stop_after_6, control), cpu,
                  hooks=res_b.hooks, state_path=state)
    assert torch.load(state, weights_only=True)["step"] == 6
    # a fresh process would rebuild the model and its methods, then resume
    module_c, _, _, res_c = _setup()
    fine_tune(module_c, "causal-lm", data.train, data.val, cfg, JobContext(lambda e: None, JobControl()),
              cpu, hooks=res_c.hooks, state_path=state, resume=True)
    ma, mc = _masks(module_a), _masks(module_c)
    assert ma.keys() == mc.keys() and len(ma) == 16
    assert all(torch.equal(ma[k], mc[k]) for k in ma)
    sa, sc = module_a.state_dict(), module_c.state_dict()
    assert all(torch.allclose(sa[k], sc[k], atol=1e-6) for k in sa)
    zeros = sum(int((m == 0).sum()) for m in mc.values()) / sum(m.numel() for m in mc.values())
    assert zeros == pytest.approx(0.7, abs=0.005)


def test_a_cancelled_job_resumes_from_its_training_state(tmp_path):
    prune = UnstructuredPruneConfig(amount=0.6, schedule="gradual", update_every=2, end_step=12)
    recipe = tiny_recipe(name="resumable", methods=(prune,), export=ExportConfig(enabled=False),
                         train=TrainConfig(max_steps=16, batch_size=8, eval_every=100, log_every=1,
                                           checkpoint_every=4))
    first = run_cancelled_at(recipe, tmp_path, step=9)
    events: list = []
    again = Job(recipe, [events.append], workspace=tmp_path, resume_run=first.run_id).run()
    assert again.ok and again.run_id == first.run_id, again.error
    steps = [e.step for e in events if isinstance(e, Metric) and e.name == "train/loss"]
    assert steps[0] == 9 and steps[-1] == 16  # continued after the checkpoint at step 8
    overall = [(e.step, e.value) for e in events if isinstance(e, Metric) and e.name == "sparsity/overall"]
    schedule = SparsitySchedule("gradual", 0.6, 16, end=12, every=2)
    assert overall[0] == (8, pytest.approx(schedule.target_at(8), abs=0.005))  # where it resumed
    assert all(step >= 8 for step, _ in overall)  # nothing from the superseded step-0 state
    assert again.card["sparsity"]["overall"] == pytest.approx(0.6, abs=0.005)
    assert not (tmp_path / "runs" / first.run_id / "train_state.pt").exists()
    refused = Job(recipe, workspace=tmp_path, resume_run=first.run_id).run()
    assert not refused.ok and "is finished; only a cancelled" in refused.error
