"""The FSDP strategy's code path in this process: a gloo world of one (no torchrun needed)
shards the model in place, trains like a single device (gradient accumulation through FSDP2's
gradient-sync switch, clipping over DTensor gradients) and leaves a plain module behind."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.distributed.fsdp import FSDPModule

from engine.recipe import TrainConfig
from engine.train.strategy import strategy_for
from engine.train.strategy_fsdp import FSDP
from tests.engine.train.common import CPU, tiny_gpt, train, values

BASE = TrainConfig(epochs=1, max_steps=3, batch_size=8, lr=3e-3, eval_every=2,
                   eval_batches=1, log_every=1, grad_accum_steps=2, clip_grad_norm=0.5)  # fmt: skip


def test_fsdp_in_a_world_of_one_trains_like_a_single_device(world_of_one):
    assert isinstance(strategy_for("fsdp", CPU), FSDP)
    sharded, one = tiny_gpt(), tiny_gpt()
    stats, metrics = train(sharded, dataclasses.replace(BASE, strategy="fsdp"))
    _, metrics1 = train(one, BASE)
    a, b = sharded.state_dict(), one.state_dict()
    assert a.keys() == b.keys()
    assert all(type(a[k]) is torch.Tensor for k in a)  # plain tensors again, not DTensors
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert not any(isinstance(m, FSDPModule) for m in sharded.modules())  # FSDP undone
    assert sharded.blocks[0].attn.qkv.weight is not None and not sharded._forward_pre_hooks
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"), abs=1e-5)
    assert values(metrics, "val/loss") == pytest.approx(values(metrics1, "val/loss"), abs=1e-5)
    assert len(values(metrics, "val/loss")) == 2  # validated while sharded (step 2) and at the end
    assert stats.setup["strategy"] == "fsdp" and stats.setup["world_size"] == 1
    # the plain module still trains (the later stages and a second fine-tune work on it)
    sharded(torch.randint(0, 50, (2, 8))).float().sum().backward()
    assert sharded.blocks[0].attn.qkv.weight.grad is not None
