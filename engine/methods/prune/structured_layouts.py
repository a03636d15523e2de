"""Names of the layers structured pruning cuts: known layouts, the user's own, and what a model has.

FFN and attention blocks are found by the names of their projections. Most models use
nn.Linear; GPT-2 (and OpenAI GPT) use transformers' `Conv1D`, a Linear with its weight stored
transposed ([in, out]), so every helper here reads sizes through `in_features`/`out_features`.
A model with other names gets `layouts_for(cfg)`: the config's `ffn_modules` and
`attention_modules` tried before the built-in names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

# (up/gate projections, down projection) relative to the module that holds the FFN
FFN_LAYOUTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gate_proj", "up_proj"), "down_proj"),  # Llama, Mistral, Qwen
    (("w1", "w3"), "w2"),  # Mixtral-style experts
    (("up_proj",), "down_proj"),
    (("fc",), "proj"),  # built-in tiny models
    (("fc1",), "fc2"),  # OPT, CLIP, Phi
    (("intermediate.dense",), "output.dense"),  # BERT, RoBERTa, MiniLM
    (("lin1",), "lin2"),  # DistilBERT
    (("dense_h_to_4h",), "dense_4h_to_h"),  # GPT-NeoX, Falcon
    (("c_fc",), "c_proj"),  # GPT-2 (transformers Conv1D)
)
QKV_NAMES: tuple[tuple[str, ...], ...] = (
    ("q_proj", "k_proj", "v_proj"), ("query", "key", "value"), ("q_lin", "k_lin", "v_lin"),
)  # fmt: skip
# one projection holding q, k and v one after the other (equal sizes: no grouped-query heads)
FUSED_QKV: tuple[str, ...] = ("qkv", "c_attn", "Wqkv", "qkv_proj")
# one projection holding each head's q, k and v together ([heads, 3, head_dim]): GPT-NeoX
# (Pythia) and Falcon without multi-query; heads come from the width and the head size
INTERLEAVED_QKV: tuple[str, ...] = ("query_key_value",)
HEAD_SIZE_ATTRS: tuple[str, ...] = ("head_size", "head_dim")
OUT_NAMES: tuple[str, ...] = ("o_proj", "out_proj", "out_lin", "proj", "c_proj", "dense")
HEAD_ATTRS: tuple[str, ...] = ("n_head", "num_heads", "num_attention_heads", "n_heads")
KV_HEAD_ATTRS = ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "n_kv_head")


@dataclass(frozen=True)
class Layouts:
    """The layer names FFN and attention sites are looked up by (user's first, then built-in)."""

    ffn: tuple[tuple[tuple[str, ...], str], ...] = FFN_LAYOUTS
    qkv: tuple[tuple[str, ...], ...] = QKV_NAMES
    fused: tuple[str, ...] = FUSED_QKV
    out: tuple[str, ...] = OUT_NAMES
    head_attrs: tuple[str, ...] = HEAD_ATTRS
    interleaved: tuple[str, ...] = INTERLEAVED_QKV


DEFAULT_LAYOUTS = Layouts()


def layouts_for(cfg: Any) -> Layouts:
    """Built-in layouts plus the ones a structured_prune config names (tried first)."""
    ffn = tuple(getattr(cfg, "ffn_modules", ()) or ())
    attn = tuple(getattr(cfg, "attention_modules", ()) or ())
    head = getattr(cfg, "head_count_attr", "") or ""
    if not ffn and not attn and not head:
        return DEFAULT_LAYOUTS
    qkv, fused, out = QKV_NAMES, FUSED_QKV, OUT_NAMES
    if len(attn) == 4:
        qkv, out = (attn[:3], *QKV_NAMES), (attn[3], *OUT_NAMES)
    elif len(attn) == 2:
        fused, out = (attn[0], *FUSED_QKV), (attn[1], *OUT_NAMES)
    user_ffn = ((ffn[:-1], ffn[-1]),) if len(ffn) >= 2 else ()
    heads = ((head,) if head else ()) + HEAD_ATTRS
    return Layouts(user_ffn + FFN_LAYOUTS, qkv, fused, out, heads)


def is_conv1d(m: nn.Module) -> bool:
    """transformers' Conv1D (GPT-2): a Linear whose weight is stored as [in, out]."""
    w = getattr(m, "weight", None)
    return (type(m).__name__ == "Conv1D" and isinstance(w, torch.Tensor) and w.dim() == 2
            and isinstance(getattr(m, "nf", None), int))  # fmt: skip


def is_dense(m: nn.Module) -> bool:
    """A Linear or a Conv1D: the projections FFN and attention blocks are made of."""
    return isinstance(m, nn.Linear) or is_conv1d(m)


def in_features(m: nn.Module) -> int:
    return m.weight.shape[0] if is_conv1d(m) else m.in_features


def out_features(m: nn.Module) -> int:
    return m.weight.shape[1] if is_conv1d(m) else m.out_features


def dense(module: nn.Module, path: str) -> nn.Module | None:
    """The Linear/Conv1D at `path` under module, or None."""
    try:
        sub = module.get_submodule(path)
    except AttributeError:
        return None
    return sub if is_dense(sub) else None


def _span(values: list[int]) -> str:
    s = sorted(set(values))
    if len(s) == 1:
        return str(s[0])
    if s == list(range(s[0], s[-1] + 1)):
        return f"{{{s[0]}-{s[-1]}}}"
    return "{" + ",".join(map(str, s)) + "}"


def layer_patterns(module: nn.Module, limit: int = 12) -> str:
    """The model's Linear/Conv1D layers, numbered parts folded: 'h.{0-11}.mlp.c_fc, …'."""
    groups: dict[tuple[str, ...], list[list[int]]] = {}
    for name, m in module.named_modules():
        if name and is_dense(m):
            parts = name.split(".")
            key = tuple("#" if p.isdigit() else p for p in parts)
            groups.setdefault(key, []).append([int(p) for p in parts if p.isdigit()])
    shown = []
    for key, nums in groups.items():
        cols = iter(list(zip(*nums, strict=True)))
        shown.append(".".join(_span(list(next(cols))) if p == "#" else p for p in key))
    if not shown:
        return "(no Linear or Conv1D layers)"
    more = f" (+{len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
