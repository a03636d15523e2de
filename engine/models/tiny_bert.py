"""tiny-bert: a small BERT-style encoder with a classification head, mean-pooled over tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.models.transformer_blocks import Block, init_weights, key_mask_from


@dataclass(frozen=True)
class TinyBertConfig:
    vocab_size: int = 258
    d_model: int = 128
    n_layer: int = 2
    n_head: int = 4
    max_positions: int = 512
    num_labels: int = 5


class TinyBert(nn.Module):
    """Bidirectional encoder; masked mean pooling over real tokens feeds `classifier`."""

    def __init__(self, config: TinyBertConfig | None = None):
        super().__init__()
        self.config = config or TinyBertConfig()
        c = self.config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.max_positions, c.d_model)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_head, c.max_positions, causal=False) for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.d_model)
        self.classifier = nn.Linear(c.d_model, c.num_labels)
        init_weights(self)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [B, num_labels]; padding (mask 0) is neither attended to nor pooled."""
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.tok_emb(input_ids) + self.pos_emb(pos)[None]
        key_mask = key_mask_from(attention_mask, input_ids)
        for block in self.blocks:
            x = block(x, key_mask)
        x = self.ln_f(x)
        weights = key_mask[:, 0, 0, :, None].to(x.dtype)  # [B, T, 1]
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled)
