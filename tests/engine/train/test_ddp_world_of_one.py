"""The DDP strategy's code path in this process: a gloo world of one (no torchrun needed)
trains exactly like a single device, and its agreed checkpoint pauses and cancels."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from engine.context import JobCancelled, JobContext, JobControl
from engine.events import Log
from engine.recipe import TrainConfig
from engine.train.strategy import DDP, agreed_checkpoint, strategy_for, world_size
from tests.engine.train.common import CPU, tiny_gpt, train, values

BASE = TrainConfig(epochs=1, max_steps=3, batch_size=8, lr=3e-3, eval_every=10**6,
                   eval_batches=1, log_every=1)  # fmt: skip


def test_ddp_in_a_world_of_one_trains_like_a_single_device(world_of_one):
    assert isinstance(strategy_for("ddp", CPU), DDP) and world_size() == 1
    assert not isinstance(strategy_for("single", CPU), DDP)  # single stays single
    ddp, one = tiny_gpt(), tiny_gpt()
    stats, metrics = train(ddp, dataclasses.replace(BASE, strategy="ddp", grad_accum_steps=2))
    _, metrics1 = train(one, dataclasses.replace(BASE, grad_accum_steps=2))
    a, b = ddp.state_dict(), one.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"))
    assert stats.setup["strategy"] == "ddp" and stats.setup["world_size"] == 1
    assert not any(k.startswith("module.") for k in a)  # the DDP wrapper is gone after training


def test_agreed_checkpoint_waits_while_paused_and_stops_on_cancel(world_of_one):
    control, logs = JobControl(), []
    ctx = JobContext(lambda e: logs.append(e.message) if isinstance(e, Log) else None, control)
    strategy = DDP(CPU)
    strategy.world_size = 2  # take the agreed path (the all-reduce still runs on this one rank)
    agreed_checkpoint(ctx, strategy)  # nothing asked: goes on
    control.pause()
    threading.Timer(0.5, control.cancel).start()
    with pytest.raises(JobCancelled):
        agreed_checkpoint(ctx, strategy)
    assert logs == ["paused"]
