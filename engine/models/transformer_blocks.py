"""Transformer pieces shared by the built-in tiny models.

Attention is written as explicit matmul + mask rather than F.scaled_dot_product_attention so
that ONNX export, FLOP counting and structured pruning all see plain Linear/matmul ops.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection; optionally causal."""

    def __init__(self, d_model: int, n_head: int, max_positions: int, causal: bool):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model {d_model} is not divisible by n_head {n_head}")
        self.n_head = n_head
        self.causal = causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        allowed = torch.ones(max_positions, max_positions, dtype=torch.bool)
        if causal:
            allowed = torch.tril(allowed)
        # not persistent: it is derived from the config, so checkpoints need not carry it
        self.register_buffer(
            "allowed", allowed.view(1, 1, max_positions, max_positions), persistent=False
        )

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x [B, T, D], key_mask bool [B, 1, 1, T] (True = attend) -> [B, T, D]."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        # head size from the tensor, not the config, so a pruned qkv still works
        head = q.shape[-1] // self.n_head
        q = q.reshape(b, t, self.n_head, head).transpose(1, 2)
        k = k.reshape(b, t, self.n_head, head).transpose(1, 2)
        v = v.reshape(b, t, self.n_head, head).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(head))
        allowed = self.allowed[:, :, :t, :t] & key_mask
        # finite fill, not -inf: a row with no allowed key gives a uniform softmax, not NaN
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, self.n_head * head))


class MLP(nn.Module):
    """Linear -> GELU -> Linear with a 4x hidden width."""

    def __init__(self, d_model: int):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, D]."""
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, d_model: int, n_head: int, max_positions: int, causal: bool):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_head, max_positions, causal)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, D]."""
        x = x + self.attn(self.ln1(x), key_mask)
        return x + self.mlp(self.ln2(x))


def key_mask_from(attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.Tensor:
    """Bool [B, 1, 1, T] mask of keys to attend to; all True when no mask is given."""
    if attention_mask is None:
        return torch.ones_like(input_ids, dtype=torch.bool)[:, None, None, :]
    return attention_mask.bool()[:, None, None, :]


def init_weights(module: nn.Module) -> None:
    """GPT-2 style init: N(0, 0.02) weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
