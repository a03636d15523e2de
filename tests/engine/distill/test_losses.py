"""Distillation losses (engine/methods/distill/losses.py) against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.methods.distill.losses import (
    agreement,
    attention_loss,
    default_layer_map,
    hidden_loss,
    kd_loss,
)


def _softmax(xs: list[float], t: float) -> list[float]:
    e = [math.exp(x / t) for x in xs]
    return [v / sum(e) for v in e]


def _kl(p: list[float], q: list[float]) -> float:
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def test_kd_loss_is_t_squared_times_the_mean_kl_of_the_softened_distributions():
    student = [[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]]
    teacher = [[2.0, 0.0, 1.0], [0.0, 0.0, 4.0]]
    t = 2.0
    by_hand = sum(_kl(_softmax(tr, t), _softmax(sr, t)) for sr, tr in zip(student, teacher, strict=True)) / 2
    got = kd_loss(torch.tensor(student), torch.tensor(teacher), temperature=t)
    assert float(got) == pytest.approx(by_hand * t * t, rel=1e-6)
    # T² is there: at T=1 the same logits give the plain KL
    plain = sum(_kl(_softmax(tr, 1.0), _softmax(sr, 1.0)) for sr, tr in zip(student, teacher, strict=True)) / 2
    assert float(kd_loss(torch.tensor(student), torch.tensor(teacher), 1.0)) == pytest.approx(plain, rel=1e-6)
    assert float(kd_loss(torch.tensor(teacher), torch.tensor(teacher), t)) == pytest.approx(0.0, abs=1e-7)


def test_kd_loss_counts_only_real_tokens_of_a_causal_lm():
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    base = kd_loss(s, t, 1.5, mask)
    s2, t2 = s.clone(), t.clone()
    s2[1, 2:] += 7.0  # padding changes: the loss does not
    t2[1, 2:] -= 3.0
    assert torch.equal(kd_loss(s2, t2, 1.5, mask), base)
    per_token = kd_loss(s[0], t[0], 1.5) * 5 + kd_loss(s[1, :2], t[1, :2], 1.5) * 2
    assert float(base) == pytest.approx(float(per_token) / 7, rel=1e-5)


def test_chunked_kd_equals_one_piece_in_value_and_gradient():
    torch.manual_seed(1)
    s = torch.randn(3, 40, 257, requires_grad=True)
    t = torch.randn(3, 40, 257)
    mask = torch.ones(3, 40)
    mask[2, 25:] = 0
    whole = kd_loss(s, t, 2.0, mask, chunk=10**6)
    pieces = kd_loss(s, t, 2.0, mask, chunk=7)  # 120 rows in pieces of 7 (last one short)
    (g_whole,) = torch.autograd.grad(whole, s)
    (g_pieces,) = torch.autograd.grad(pieces, s)
    assert float(pieces.detach()) == pytest.approx(float(whole.detach()), rel=1e-6)
    assert torch.allclose(g_pieces, g_whole, atol=1e-7)
    assert g_whole[2, 25:].abs().max() == 0  # padding gets no gradient
    # the hand-formed gradient is autograd's through torch's own KL
    kl = F.kl_div(F.log_softmax(s / 2, -1), F.log_softmax(t / 2, -1), log_target=True, reduction="none")
    reference = (kl.sum(-1) * mask).sum() / mask.sum() * 4
    (g_ref,) = torch.autograd.grad(reference, s)
    assert float(reference.detach()) == pytest.approx(float(whole.detach()), rel=1e-5)
    assert torch.allclose(g_whole, g_ref, atol=1e-7)


def test_kd_loss_refuses_bad_temperature_and_other_label_spaces():
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(torch.zeros(1, 3), torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="label space"):
        kd_loss(torch.zeros(1, 3), torch.zeros(1, 4), 1.0)


def test_hidden_loss_mse_cosine_and_projection():
    s = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    t = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    assert float(hidden_loss(s, t, "mse")) == pytest.approx(((0 + 1) / 2 + (0 + 1) / 2) / 2)
    # first token at 45 degrees, second parallel
    assert float(hidden_loss(s, t, "cosine")) == pytest.approx((1 - math.sqrt(0.5)) / 2)
    assert float(hidden_loss(s, t, "mse", mask=torch.tensor([[0, 1]]))) == pytest.approx(0.5)
    proj = nn.Linear(2, 3)
    wide = torch.randn(1, 2, 3)
    with torch.no_grad():
        assert float(hidden_loss(s, wide, "mse", proj)) == pytest.approx(float((proj(s) - wide).pow(2).mean()))
    with pytest.raises(ValueError, match="projection"):
        hidden_loss(s, wide, "mse")


def test_attention_loss_is_the_kl_between_attention_rows():
    a = torch.tensor([[[[0.5, 0.5], [0.25, 0.75]]]])  # [B=1, H=1, T=2, T=2]
    b = torch.tensor([[[[0.9, 0.1], [0.25, 0.75]]]])
    assert float(attention_loss(b, b)) == pytest.approx(0.0, abs=1e-7)
    assert float(attention_loss(a, b)) == pytest.approx(_kl([0.9, 0.1], [0.5, 0.5]) / 2, rel=1e-6)
    # a causal row with a zero-probability key is no NaN
    causal = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])
    assert torch.isfinite(attention_loss(causal, causal))
    # other head counts: the head-averaged maps are compared
    two_heads = torch.cat([a, b], dim=1)
    assert float(attention_loss(two_heads, (a + b) / 2)) == pytest.approx(0.0, abs=1e-7)


def test_default_layer_map_is_even_and_ends_on_the_last_block():
    assert default_layer_map(3, 6) == [1, 3, 5]
    assert default_layer_map(2, 4) == [1, 3]
    assert default_layer_map(6, 6) == list(range(6))
    assert default_layer_map(1, 12) == [11]
    assert default_layer_map(3, 4)[-1] == 3
    assert default_layer_map(4, 2) == [0, 0, 1, 1]


def test_agreement_is_the_top1_match_rate_over_counted_tokens():
    s = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    t = torch.tensor([[[2.0, 0.0], [3.0, 0.0], [0.0, 5.0]]])
    assert float(agreement(s, t)) == pytest.approx(1 / 3)
    assert float(agreement(s, t, torch.tensor([[1, 0, 0]]))) == 1.0
