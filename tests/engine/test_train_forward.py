"""The one forward call and the task loss (engine/train/forward.py) on real tiny models."""

from __future__ import annotations

import math

import pytest
import torch

from engine.models.builtin import build_tiny_module
from engine.train.forward import compute_loss, forward, forward_loss


def _batch(labels: torch.Tensor) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 258, (2, 6), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0  # the second row is padded after 4 tokens
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def test_causal_lm_loss_is_next_token_cross_entropy_over_real_tokens_only():
    torch.manual_seed(0)
    module = build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 2, "n_head": 2})
    batch = _batch(labels=None)
    batch["labels"] = batch["input_ids"]
    loss, logits = forward_loss(module, batch, "causal-lm")
    assert torch.equal(logits, forward(module, batch)) and logits.shape == (2, 6, 258)
    logp = torch.log_softmax(logits.detach(), -1)
    # predicting token t+1 from position t; row 1 has targets only at positions 1..3
    terms = [-logp[b, t, batch["input_ids"][b, t + 1]] for b in range(2) for t in range(5)
             if batch["attention_mask"][b, t + 1]]
    assert len(terms) == 5 + 3
    assert loss.item() == pytest.approx(float(sum(terms) / len(terms)), rel=1e-5)
    assert loss.requires_grad  # training takes its backward


def test_classification_loss_is_per_sample_cross_entropy():
    torch.manual_seed(0)
    module = build_tiny_module("tiny-bert", {"d_model": 32, "n_layer": 2, "n_head": 2, "num_labels": 3})
    batch = _batch(labels=torch.tensor([2, 0]))
    loss, logits = forward_loss(module, batch, "classification")
    assert logits.shape == (2, 3)
    logp = torch.log_softmax(logits.detach(), -1)
    expected = -(logp[0, 2] + logp[1, 0]) / 2
    assert loss.item() == pytest.approx(float(expected), rel=1e-5)
    assert math.isfinite(loss.item())


def test_a_task_without_a_loss_is_refused_in_one_line():
    with pytest.raises(ValueError, match="causal-lm or classification model, got task 'generic'"):
        compute_loss("generic", torch.zeros(1, 2), {"labels": torch.zeros(1, dtype=torch.long)})
