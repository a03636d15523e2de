"""Gradient accumulation: micro-batches add up to the larger batch, steps count optimizer steps,
and a run interrupted mid-way resumes to the same weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.context import JobCancelled, JobContext, JobControl
from engine.events import Metric
from engine.recipe import TrainConfig
from engine.train.loop import fine_tune, total_steps
from engine.train.step import step_groups
from tests.engine.train.common import shakespeare, tiny_gpt, train, values

BASE = TrainConfig(epochs=3, batch_size=8, lr=3e-3, eval_every=10**6, eval_batches=1, log_every=1)


def _weights(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_two_micro_batches_of_8_step_like_one_batch_of_16():
    one = tiny_gpt()
    accumulated = tiny_gpt()
    big = dataclasses.replace(BASE, max_steps=2, batch_size=16)
    small = dataclasses.replace(BASE, max_steps=2, batch_size=8, grad_accum_steps=2)
    stats_one, m_one = train(one, big)
    stats_acc, m_acc = train(accumulated, small)
    assert stats_one.steps == stats_acc.steps == 2 and stats_one.samples == stats_acc.samples == 32
    a, b = _weights(one), _weights(accumulated)
    # Adam divides by the gradient's running scale, which magnifies float rounding a little
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    # the weights moved: equal because both trained, not because neither did
    fresh = _weights(tiny_gpt())
    assert max(float((a[k] - fresh[k]).abs().max()) for k in a) > 1e-3
    # the reported loss is the mean over the step's micro-batches: the same curve
    assert values(m_acc, "train/loss") == pytest.approx(values(m_one, "train/loss"), abs=1e-4)
    # and the gradient is the mean, not the sum, of the micro-batches' (Adam alone would not
    # tell: it is nearly blind to the gradient's scale)
    norms = values(m_acc, "train/grad_norm")
    assert len(norms) == 2 and norms == pytest.approx(values(m_one, "train/grad_norm"), rel=1e-4)
    assert stats_acc.setup["effective_batch"] == 16


def test_steps_count_optimizer_steps_and_the_last_group_takes_the_rest():
    n = len(shakespeare().train)  # 43 samples: 6 micro-batches of 8
    cfg = dataclasses.replace(BASE, epochs=2, grad_accum_steps=4)
    assert total_steps(n, cfg) == 2 * 2  # 4 + 2 micro-batches per epoch
    groups = list(step_groups(range(6), 4))
    assert groups == [[0, 1, 2, 3], [4, 5]]
    assert list(step_groups(range(6), 4, skip=1)) == [[4, 5]]
    stats, metrics = train(tiny_gpt(), cfg)
    assert stats.steps == 4 and stats.samples == 2 * n
    assert [s for name, s, _ in metrics if name == "train/loss"] == [1, 2, 3, 4]


def test_a_run_with_accumulation_resumes_to_the_same_weights(tmp_path):
    # 2 steps per epoch (4 + 2 micro-batches); the state at step 3 lies inside epoch 2, so
    # the resumed run skips that epoch's first 4 micro-batches of the same shuffled order
    cfg = dataclasses.replace(BASE, batch_size=8, grad_accum_steps=4, epochs=3, checkpoint_every=3)
    straight = tiny_gpt()
    train(straight, cfg, state_path=tmp_path / "a.pt")
    control = JobControl()

    def stop_after_4(event):
        if isinstance(event, Metric) and event.name == "train/loss" and event.step >= 4:
            control.cancel()

    stopped = tiny_gpt()
    state = tmp_path / "b.pt"
    data = shakespeare()
    with pytest.raises(JobCancelled):
        fine_tune(stopped, "causal-lm", data.train, data.val, cfg, JobContext(stop_after_4, control),
                  torch.device("cpu"), state_path=state)  # fmt: skip
    assert torch.load(state, weights_only=True)["step"] == 3
    resumed = tiny_gpt()
    stats, _ = train(resumed, cfg, state_path=state, resume=True)
    assert stats.steps == 6
    a, c = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], c[k]) for k in a)
