"""What a forward pass leaves behind for distillation: chosen blocks' outputs, attention maps.

Hooks are registered for one forward call only (a `with` block), so a model carries no hooks
while it is evaluated, exported or saved. Only torch (and the built-in attention class) is
imported: registry discovery imports every module of this package.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from engine.methods.distill.blocks import model_type, transformer_blocks
from engine.models.transformer_blocks import SelfAttention


class Captured:
    """Block outputs by block index, and the last block's attention probabilities."""

    def __init__(self) -> None:
        self.hidden: dict[int, torch.Tensor] = {}
        self.attention: torch.Tensor | None = None


def _first_tensor(output: Any) -> torch.Tensor:
    """A block's hidden states: the tensor itself, or the first item of a tuple (HF layers)."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _builtin_probs(attn: SelfAttention, qkv: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """The probabilities SelfAttention.forward forms, rebuilt from its qkv output and key mask."""
    b, t, _ = qkv.shape
    q, k, _ = qkv.chunk(3, dim=-1)
    head = q.shape[-1] // attn.n_head
    q = q.reshape(b, t, attn.n_head, head).transpose(1, 2)
    k = k.reshape(b, t, attn.n_head, head).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(head))
    allowed = attn.allowed[:, :, :t, :t] & key_mask
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


def _hook_builtin_attention(attn: SelfAttention, out: Captured) -> list[Any]:
    """Hooks that rebuild a built-in SelfAttention's probabilities (it keeps none itself)."""
    seen: dict[str, torch.Tensor] = {}

    def keep_mask(_m: nn.Module, args: tuple) -> None:
        seen["key_mask"] = args[1]

    def keep_qkv(_m: nn.Module, _args: tuple, qkv: torch.Tensor) -> None:
        out.attention = _builtin_probs(attn, qkv, seen["key_mask"])

    return [attn.register_forward_pre_hook(keep_mask), attn.qkv.register_forward_hook(keep_qkv)]


class _EvalWhileCaptured:
    """Puts modules in eval mode until remove() (a handle like a hook's), then back."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modes = [(m, m.training) for m in modules]
        for m in modules:
            m.train(False)

    def remove(self) -> None:
        for m, mode in self.modes:
            m.train(mode)


def _hook_hf_attention(block: nn.Module, out: Captured) -> list[Any]:
    """Hooks on a Hugging Face block's submodules: eager attention returns (output, probs).

    HF returns the probabilities after attention dropout (rows no longer sum to 1), so the
    innermost attention modules run in eval mode while captured: attention KD turns the
    student's attention-probability dropout off in its last block (hidden dropout stays).
    """

    def keep(_m: nn.Module, _args: tuple, output: Any) -> None:
        if out.attention is None and isinstance(output, tuple) and len(output) > 1:
            probs = output[1]
            if isinstance(probs, torch.Tensor) and probs.dim() == 4:
                out.attention = probs

    def is_attention(m: nn.Module) -> bool:
        return "Attention" in type(m).__name__

    innermost = [m for m in block.modules() if is_attention(m)
                 and not any(is_attention(c) for c in m.modules() if c is not m)]  # fmt: skip
    handles: list[Any] = [m.register_forward_hook(keep) for m in block.modules() if m is not block]
    return [*handles, _EvalWhileCaptured(innermost)]


def use_eager_attention(module: nn.Module) -> None:
    """Make a Hugging Face model form attention probabilities (SDPA never does); no-op else."""
    inner = getattr(module, "model", None)
    setter = getattr(inner, "set_attn_implementation", None)
    if callable(setter) and getattr(inner.config, "_attn_implementation", "eager") != "eager":
        setter("eager")


@contextmanager
def capture(module: nn.Module, layers: Sequence[int], attention: bool) -> Iterator[Captured]:
    """Within the block, a forward of `module` fills the returned Captured.

    `layers`: block indices whose outputs are kept; `attention`: keep the last block's
    attention probabilities (ValueError naming the model when it exposes none).
    """
    out = Captured()
    if not layers and not attention:  # logits only: any model (an offline teacher has no blocks)
        yield out
        return
    _, blocks = transformer_blocks(module)
    handles: list[Any] = []

    def keeper(index: int) -> Any:
        def keep(_m: nn.Module, _args: tuple, output: Any) -> None:
            out.hidden[index] = _first_tensor(output)

        return keep

    handles += [blocks[i].register_forward_hook(keeper(i)) for i in sorted(set(layers))]
    if attention:
        last = blocks[len(blocks) - 1]
        builtin = [m for m in last.modules() if isinstance(m, SelfAttention)]
        handles += (_hook_builtin_attention(builtin[0], out) if builtin
                    else _hook_hf_attention(last, out))  # fmt: skip
    try:
        yield out
    finally:
        for h in handles:
            h.remove()
    if attention and out.attention is None:
        raise ValueError(
            f"{model_type(module)} exposes no attention probabilities (fused or SDPA attention "
            "forms none); set attention_weight to 0, or use a model with eager attention"
        )
