"""grad_checkpointing: the same loss and gradients, the activations recomputed in backward,
undone after training; for the built-in transformers and Hugging Face models."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.models.hf import HFLogitsWrapper
from engine.train.train_setup import enable_checkpointing
from tests.engine.train.common import tiny_gpt


def _loss_and_grads(module, ids, mask, target):
    module.zero_grad(set_to_none=True)
    logits = module(ids, mask)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1))
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in module.named_parameters()}


def _compare(module, counted, ids, mask, target):
    """(loss, grads) without and with checkpointing, and forward calls of `counted` per pass."""
    calls = [0]
    # a pre-hook: the recomputation stops as soon as it has what backward needs, which may be
    # before a module's forward returns
    counted.register_forward_pre_hook(lambda *a: calls.__setitem__(0, calls[0] + 1))
    plain = _loss_and_grads(module, ids, mask, target)
    plain_calls, calls[0] = calls[0], 0
    keys = list(module.state_dict())
    done, restore = enable_checkpointing(module)
    assert done
    ckpt = _loss_and_grads(module, ids, mask, target)
    ckpt_calls, calls[0] = calls[0], 0
    restore()
    _loss_and_grads(module, ids, mask, target)
    assert list(module.state_dict()) == keys  # nothing renamed for save and export
    assert calls[0] == plain_calls  # undone: one forward again
    assert ckpt_calls == 2 * plain_calls  # recomputed in backward
    assert ckpt[0] == pytest.approx(plain[0], rel=1e-6)
    assert all(torch.allclose(plain[1][n], ckpt[1][n], atol=1e-6) for n in plain[1])
    return done


def test_tiny_gpt_blocks_are_checkpointed_with_the_same_gradients():
    module = tiny_gpt().train()
    ids = torch.randint(0, 258, (2, 16), generator=torch.Generator().manual_seed(0))
    done = _compare(module, module.blocks[1].mlp, ids, torch.ones_like(ids), ids)
    assert done == ["blocks.0", "blocks.1"]


def test_a_hugging_face_bert_is_checkpointed_with_the_same_gradients():
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=3,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    torch.manual_seed(0)
    module = HFLogitsWrapper(BertForSequenceClassification(config)).train()
    ids = torch.randint(0, 100, (4, 12))
    done = _compare(module, module.model.bert.encoder.layer[1].intermediate, ids,
                    torch.ones_like(ids), torch.tensor([0, 1, 2, 1]))  # fmt: skip
    assert done == ["BertForSequenceClassification (Hugging Face)"]
    assert not module.model.is_activation_checkpointing  # undone


def test_a_model_without_blocks_trains_without_it_and_says_so():
    from engine.recipe import TrainConfig
    from engine.train.train_setup import training_module

    lines, setup = [], {}
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with training_module(mlp, TrainConfig(grad_checkpointing=True), lambda m, *a: lines.append(m), setup) as m:
        assert m is mlp
    assert setup["grad_checkpointing"].startswith("not applied")
    assert "training without it" in lines[0]


def test_deepcopy_after_checkpointing_is_undone_works():
    module = tiny_gpt()
    _, restore = enable_checkpointing(module)
    restore()
    copy.deepcopy(module)  # no instance forward left behind
    assert "forward" not in vars(module.blocks[0])
