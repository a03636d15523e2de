"""DataParallel and FSDP on CUDA (skipped without the GPUs): DataParallel over 2+ GPUs trains
like a single GPU and leaves the plain module; FSDP in an nccl world of one does too."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch
import torch.distributed as dist

from engine.recipe import TrainConfig
from engine.train.strategy import strategy_for
from engine.train.strategy_fsdp import FSDP, DataParallel
from tests.engine.train.common import tiny_gpt, train, values

BASE = TrainConfig(epochs=1, max_steps=3, batch_size=8, lr=3e-3, eval_every=10**6,
                   eval_batches=1, log_every=1, device="cuda")  # fmt: skip
CUDA = torch.device("cuda")


def _train(module, cfg):
    return train(module, cfg, device=CUDA)[1]


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DataParallel needs 2+ CUDA GPUs")
def test_dataparallel_over_the_gpus_trains_like_one_gpu():
    assert isinstance(strategy_for("dataparallel", CUDA), DataParallel)
    spread, one = tiny_gpt(), tiny_gpt()
    metrics = _train(spread, dataclasses.replace(BASE, strategy="dataparallel"))
    metrics1 = _train(one, BASE)
    a, b = spread.state_dict(), one.state_dict()
    assert a.keys() == b.keys()  # no "module." prefix: the wrapper is gone
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"), abs=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fsdp_on_cuda_in_a_world_of_one_trains_like_one_gpu(monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", os.environ.get("TEST_MASTER_PORT", "29533"))
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        assert isinstance(strategy_for("fsdp", CUDA), FSDP)
        sharded, one = tiny_gpt(), tiny_gpt()
        metrics = _train(sharded, dataclasses.replace(BASE, strategy="fsdp"))
    finally:
        dist.destroy_process_group()
    metrics1 = _train(one, BASE)
    a, b = sharded.state_dict(), one.state_dict()
    assert all(type(a[k]) is torch.Tensor and a[k].is_cuda for k in a)
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"), abs=1e-4)


def _blocks_on(module, strategy, expected: list[str]) -> None:
    """Wrap with `strategy`, check each block's device and a forward/backward across them."""
    strategy.wrap(module)
    try:
        assert [str(next(b.parameters()).device) for b in module.blocks] == expected
        ids = torch.randint(0, 200, (2, 8), device=CUDA)
        logits = module(ids, torch.ones_like(ids))
        assert logits.device == ids.device  # back where the batch (and the labels) are
        logits.float().pow(2).mean().backward()
        assert all(p.grad is not None for p in module.parameters())
    finally:
        strategy.unwrap(module)
    assert all(p.is_cuda for p in module.parameters())  # one device again (train.device)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="model parallel needs 2+ CUDA GPUs")
def test_model_parallel_over_two_gpus_places_the_blocks_and_trains_like_one_gpu():
    from engine.train.strategy_pipeline import ModelParallel

    _blocks_on(tiny_gpt(), ModelParallel(CUDA, "cuda:0,cuda:1", (1,)), ["cuda:0", "cuda:1"])
    _split_trains_like_one_gpu("cuda:0,cuda:1")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_model_parallel_over_a_gpu_and_the_cpu_moves_the_activations_both_ways():
    from engine.train.strategy_pipeline import ModelParallel

    # one GPU is enough to cross devices: the second stage on the CPU
    _blocks_on(tiny_gpt(), ModelParallel(CUDA, "cuda:0,cpu", (1,)), ["cuda:0", "cpu"])
    _split_trains_like_one_gpu("cuda:0,cpu")


def _split_trains_like_one_gpu(devices: str) -> None:
    """Split over `devices`, the model ends whole on the GPU with one GPU's weights and losses."""
    split, one = tiny_gpt(), tiny_gpt()
    metrics = _train(split, dataclasses.replace(BASE, strategy="model_parallel", devices=devices))
    metrics1 = _train(one, BASE)
    a, b = split.state_dict(), one.state_dict()
    assert all(a[k].is_cuda and torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"), abs=1e-4)
