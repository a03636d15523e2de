"""clip_grad_norm: the reported norm is the one before clipping, and the update is the clipped one."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from engine.recipe import TrainConfig
from engine.train.forward import to_device
from engine.train.loop import make_loader
from engine.train.objective import TaskLoss
from engine.train.precision import Precision
from tests.engine.train.common import CPU, shakespeare, tiny_gpt, train, values

CFG = TrainConfig(max_steps=1, batch_size=8, lr=1e-2, eval_every=10**6, eval_batches=1, log_every=1)


def test_the_step_applies_the_clipped_gradient():
    layer = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    layer(torch.tensor([[3.0, 4.0, 0.0]])).sum().backward()  # gradient (3, 4, 0): norm 5
    info = Precision("fp32", CPU).step(opt, list(layer.parameters()), clip=1.0)
    assert float(info.grad_norm) == pytest.approx(5.0)  # before clipping
    # SGD with lr 1 moves the weight by the gradient: the clipped one, (0.6, 0.8, 0)
    assert layer.weight.detach()[0].tolist() == pytest.approx([0.4, 1.2, 3.0], abs=1e-6)


def test_the_loop_reports_the_norm_before_clipping_and_steps_with_the_clipped_one():
    data = shakespeare()
    clipped = tiny_gpt()
    by_hand = copy.deepcopy(clipped)
    _, metrics = train(clipped, dataclasses.replace(CFG, clip_grad_norm=0.05))
    # the same step by hand: gradient of the first shuffled batch, clipped, one AdamW step
    batch = to_device(next(iter(make_loader(data.train, 8, True, CFG.seed))), CPU)
    torch.manual_seed(CFG.seed)
    loss, _ = TaskLoss("causal-lm").loss(by_hand.train(), batch)
    loss.backward()
    params = list(by_hand.parameters())
    norm = torch.nn.utils.clip_grad_norm_(params, 0.05)
    torch.optim.AdamW(params, lr=CFG.lr, weight_decay=0.0).step()
    assert values(metrics, "train/grad_norm") == [pytest.approx(float(norm), rel=1e-5)]
    assert float(norm) > 0.05  # the clip did act
    a, b = clipped.state_dict(), by_hand.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_without_clipping_the_norm_is_reported_at_log_steps_only():
    cfg = dataclasses.replace(CFG, epochs=2, max_steps=6, log_every=3)
    _, metrics = train(tiny_gpt(), cfg)
    assert [s for n, s, _ in metrics if n == "train/grad_norm"] == [3, 6]
