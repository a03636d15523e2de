"""The DeepSpeed strategy's code path in this process: a gloo world of one (DeepSpeed's CPU
accelerator; no torchrun, no GPU) trains through deepspeed.initialize's engine like a single
device (accumulation boundaries, clipping, ZeRO-2 and ZeRO-3 with offload) and leaves a plain
float32 module behind. Skipped without the optional `deepspeed` package.

The product refuses deepspeed without CUDA (engine.train.device_checks); this calls fine_tune
directly, which is what every rank of a GPU run does after that check."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.recipe import TrainConfig
from engine.train.strategy import strategy_for
from tests.engine.train.common import CPU, tiny_gpt, train, values

pytest.importorskip("deepspeed")

BASE = TrainConfig(epochs=1, max_steps=3, batch_size=8, lr=3e-3, eval_every=2,
                   eval_batches=1, log_every=1, grad_accum_steps=2, clip_grad_norm=0.5)  # fmt: skip


@pytest.fixture(scope="module")
def single():
    """The single-device run every DeepSpeed setting must match: (state dict, metrics)."""
    module = tiny_gpt()
    _, metrics = train(module, BASE)
    return module.state_dict(), metrics


@pytest.fixture
def ds_world(world_of_one, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")  # torchrun's variable, which DeepSpeed reads


def _assert_plain(module: torch.nn.Module) -> None:
    for p in module.parameters():
        assert type(p) is torch.nn.Parameter and p.dtype == torch.float32
        assert not hasattr(p, "ds_id") and not hasattr(p, "_hp_mapping")  # no ZeRO leftovers
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in module.modules())
    module(torch.randint(0, 50, (2, 8))).float().sum().backward()  # trains on as a plain module
    assert all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("stage,offload", [(2, "none"), (3, "optimizer_and_params")])
def test_zero_in_a_world_of_one_trains_like_a_single_device(ds_world, single, stage, offload):
    from engine.train.strategy_deepspeed import DeepSpeed

    cfg = dataclasses.replace(BASE, strategy="deepspeed", deepspeed_stage=stage,
                              deepspeed_offload=offload)  # fmt: skip
    assert isinstance(strategy_for("deepspeed", CPU, cfg), DeepSpeed)
    module = tiny_gpt()
    stats, metrics = train(module, cfg)
    ref, ref_metrics = single
    state = module.state_dict()
    assert state.keys() == ref.keys()
    assert all(torch.allclose(state[k], ref[k], atol=1e-5) for k in state)
    for name in ("train/loss", "val/loss", "train/grad_norm"):  # the norm before clipping
        assert values(metrics, name) == pytest.approx(values(ref_metrics, name), abs=1e-5)
    assert stats.setup["zero_stage"] == stage and stats.setup["offload"] == offload
    assert stats.setup["deepspeed_config"]["gradient_clipping"] == 0.5
    _assert_plain(module)


def test_bf16_comes_back_as_float32_weights(ds_world, single):
    cfg = dataclasses.replace(BASE, strategy="deepspeed", precision="bf16")
    module = tiny_gpt()
    frozen = module.blocks[0].attn.qkv.weight
    frozen.requires_grad_(False)
    before = frozen.detach().clone()
    _, metrics = train(module, cfg)
    ref, ref_metrics = single
    # DeepSpeed trained bf16 weights with fp32 master copies: those come back, close to fp32's
    assert values(metrics, "train/loss") == pytest.approx(values(ref_metrics, "train/loss"),
                                                          abs=0.05)  # fmt: skip
    state = module.state_dict()
    assert all(state[k].dtype == ref[k].dtype for k in state)
    assert max(float((state[k] - ref[k]).abs().max()) for k in state if "qkv.weight" not in k) < 0.02
    # a frozen weight comes back exactly, not rounded to bf16 (it has no fp32 master copy)
    assert torch.equal(module.blocks[0].attn.qkv.weight, before)
    module.blocks[0].attn.qkv.weight.requires_grad_(True)
    _assert_plain(module)
