"""Masks on nn.MultiheadAttention's out_proj stay live while training (its forward is bypassed)."""

import pytest
import torch
from torch import nn

from engine.methods.prune.masks import keep_masks_live, set_mask


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.MultiheadAttention(16, 4, batch_first=True)


def _steps(mha: nn.Module, n: int) -> None:
    opt = torch.optim.SGD(mha.parameters(), lr=0.1)
    x = torch.randn(2, 5, 16)
    for _ in range(n):
        out = mha(x, x, x, need_weights=False)[0]
        out.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()


def test_masked_out_proj_trains_and_keeps_its_zeros() -> None:
    mha = _model()
    mask = (torch.rand(16, 16) > 0.5).float()
    set_mask(mha.out_proj, mask)
    before = mha.out_proj.weight_orig.detach().clone()
    keep_masks_live(mha)
    keep_masks_live(mha)  # idempotent: one refresh hook
    _steps(mha, 3)
    assert not torch.equal(mha.out_proj.weight_orig, before)  # it learned
    assert torch.all(mha.out_proj.weight[mask == 0] == 0)  # and the pruned entries stay zero
    x = torch.randn(1, 3, 16)
    mha(x, x, x)  # the next forward sees the weight the last step made, masked
    assert torch.equal(mha.out_proj.weight, mha.out_proj.weight_orig * mask)
    assert len(mha._forward_pre_hooks) == 1


def test_without_it_the_second_step_fails() -> None:
    mha = _model()
    set_mask(mha.out_proj, (torch.rand(16, 16) > 0.5).float())
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _steps(mha, 2)
