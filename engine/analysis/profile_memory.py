"""Where a model's memory goes: parameters, buffers, one batch's peak activations, the KV cache.

Peak activation memory is measured, not estimated: on CUDA `max_memory_allocated` over one
forward (less what was allocated before it); on CPU torch.profiler's memory records, replayed
in time order (each operator's own allocations, and the frees between operators) to find
the highest point above where the forward started.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

MB = 1e6


def _unique_bytes(tensors: Any) -> int:
    seen: set[int] = set()
    total = 0
    for t in tensors:
        key = t.data_ptr() if t.numel() else id(t)
        if key not in seen:  # tied weights count once
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def activation_peak_bytes(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[int, str]:
    """(peak bytes allocated during one forward beyond what existed before, source)."""
    p = next(iter(model.parameters()), None)
    with torch.inference_mode():
        model(*inputs)  # warm-up: lazily built buffers are not activations
        if p is not None and p.device.type == "cuda":
            torch.cuda.synchronize(p.device)
            before = torch.cuda.memory_allocated(p.device)
            torch.cuda.reset_peak_memory_stats(p.device)
            model(*inputs)
            torch.cuda.synchronize(p.device)
            return max(0, torch.cuda.max_memory_allocated(p.device) - before), "cuda"
        from torch.profiler import ProfilerActivity

        from engine.analysis.quiet_profiler import quiet_profile

        with quiet_profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                           record_shapes=False) as prof:  # fmt: skip
            model(*inputs)
    level = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        level += event.self_cpu_memory_usage  # "[memory]" events carry the frees between ops
        peak = max(peak, level)
    return peak, "profiler"


def _attention_width(module: nn.Module) -> tuple[int, int] | None:
    """(heads, head_dim) of a built-in block's attention, read from its qkv weight (pruning-proof)."""
    for m in module.modules():
        qkv, heads = getattr(m, "qkv", None), getattr(m, "n_head", None)
        if isinstance(qkv, nn.Linear) and isinstance(heads, int) and heads > 0:
            return heads, qkv.out_features // 3 // heads
    return None


def _hf_config(module: nn.Module) -> Any:
    for m in module.modules():
        cfg = getattr(m, "config", None)
        if cfg is not None and hasattr(cfg, "num_hidden_layers") and hasattr(cfg, "to_dict"):
            return cfg
    return None


def kv_shape(module: nn.Module) -> tuple[int, int, int] | None:
    """(layers, key/value heads, head_dim) from an HF config or a built-in model's blocks."""
    cfg = _hf_config(module)
    if cfg is not None:
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return int(cfg.num_hidden_layers), int(heads), int(head_dim)
    blocks = next((m.blocks for m in module.modules()
                   if isinstance(getattr(m, "blocks", None), nn.ModuleList)), None)  # fmt: skip
    width = _attention_width(module)
    if blocks is None or width is None:
        return None
    return len(blocks), width[0], width[1]


def kv_cache(module: nn.Module, task: str, context: int, batch: int) -> dict[str, Any] | None:
    """2 x layers x batch x context x heads x head_dim x dtype bytes; None for non-causal models."""
    if task != "causal-lm":
        return None
    shape = kv_shape(module)
    if shape is None:
        return None
    layers, heads, head_dim = shape
    p = next((p for p in module.parameters() if p.is_floating_point()), None)
    dtype_bytes = p.element_size() if p is not None else 4
    size = 2 * layers * batch * context * heads * head_dim * dtype_bytes
    return {"context": context, "batch": batch, "layers": layers, "heads": heads,
            "head_dim": head_dim, "dtype_bytes": dtype_bytes, "mb": size / MB}  # fmt: skip


def memory_record(model: nn.Module, inputs: tuple[torch.Tensor, ...], task: str,
                  kv_context: int, kv_batch: int) -> dict[str, Any]:
    """The record's `memory` entry."""
    peak, source = activation_peak_bytes(model, inputs)
    return {
        "params_mb": _unique_bytes(model.parameters()) / MB,
        "buffers_mb": _unique_bytes(model.buffers()) / MB,
        "activation_peak_mb": peak / MB,
        "peak_source": source,
        "kv_cache": kv_cache(model, task, kv_context, kv_batch),
    }
