"""tiny-gpt: a nanoGPT-style causal language model small enough to train on a laptop CPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.models.transformer_blocks import Block, init_weights, key_mask_from


@dataclass(frozen=True)
class TinyGPTConfig:
    vocab_size: int = 258
    d_model: int = 128
    n_layer: int = 4
    n_head: int = 4
    block_size: int = 128


class TinyGPT(nn.Module):
    """Token + position embeddings, pre-LN causal blocks, final LayerNorm, lm_head."""

    def __init__(self, config: TinyGPTConfig | None = None):
        super().__init__()
        self.config = config or TinyGPTConfig()
        c = self.config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.block_size, c.d_model)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_head, c.block_size, causal=True) for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.d_model)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        init_weights(self)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [B, T, vocab]; padded keys (mask 0) are not attended to."""
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.tok_emb(input_ids) + self.pos_emb(pos)[None]
        key_mask = key_mask_from(attention_mask, input_ids)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.lm_head(self.ln_f(x))
