"""Tiny teachers for the student tests: built-in tiny-gpt / tiny-bert and HF BERT, GPT-2, Llama,
each with 4 blocks and hidden 32, built from code (nothing downloaded)."""

from __future__ import annotations

import torch
from torch import nn

VOCAB = 40
LABELS = 3


def tiny(name: str, layers: int = 4) -> nn.Module:
    """Built-in tiny-gpt or tiny-bert with `layers` blocks, d_model 32, seeded weights."""
    from engine.models.builtin import build_tiny_module

    config = {"n_layer": layers, "d_model": 32, "n_head": 2, "vocab_size": VOCAB}
    config.update({"block_size": 16} if name == "tiny-gpt" else {"max_positions": 16,
                                                                 "num_labels": LABELS})
    return build_tiny_module(name, config)


def hf(family: str, layers: int = 4) -> nn.Module:
    """A wrapped HF model: bert (classifier), gpt2 or llama (causal LM), hidden 32, 2 heads."""
    import transformers as tf

    from engine.models.hf import HFLogitsWrapper

    torch.manual_seed(0)
    if family == "bert":
        cfg = tf.BertConfig(num_hidden_layers=layers, hidden_size=32, num_attention_heads=2,
                            intermediate_size=64, vocab_size=VOCAB, num_labels=LABELS,
                            max_position_embeddings=16)
        model = tf.BertForSequenceClassification(cfg)
    elif family == "gpt2":
        cfg = tf.GPT2Config(n_layer=layers, n_embd=32, n_head=2, vocab_size=VOCAB, n_positions=16,
                            bos_token_id=0, eos_token_id=0)
        model = tf.GPT2LMHeadModel(cfg)
    else:
        cfg = tf.LlamaConfig(num_hidden_layers=layers, hidden_size=32, num_attention_heads=2,
                             num_key_value_heads=1, intermediate_size=64, vocab_size=VOCAB,
                             max_position_embeddings=16, bos_token_id=0, eos_token_id=0)
        model = tf.LlamaForCausalLM(cfg)
    model.config.use_cache = False
    return HFLogitsWrapper(model.eval())


def build(kind: str) -> nn.Module:
    """tiny-gpt, tiny-bert, bert, gpt2 or llama teacher with 4 blocks."""
    return tiny(kind) if kind.startswith("tiny-") else hf(kind)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sequences of 8 ids; the second right-padded so masking is exercised."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (2, 8), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    return ids, mask


def logits(module: nn.Module) -> torch.Tensor:
    """module's logits on batch(), without gradients."""
    with torch.no_grad():
        return module(*batch())
