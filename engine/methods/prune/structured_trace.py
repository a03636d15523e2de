"""Tracing a model for torch-pruning: eval mode, plain-op attention, inputs it runs on, the graph.

The dependency graph couples every tensor a structured cut must slice together; tracing
has to see plain ops (no fused attention, no RoPE slicing) and an input the model accepts.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import torch
import torch_pruning as tp
from torch import nn

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    # RoPE's rotate_half as a matmul: slicing the head dimension sends torch-pruning's index
    # mapping into a loop, a fixed permutation does not and gives the same numbers
    h = x.shape[-1]
    r = torch.zeros(h, h, dtype=x.dtype, device=x.device)
    i = torch.arange(h // 2, device=x.device)
    r[h // 2 + i, i] = -1.0
    r[i, h // 2 + i] = 1.0
    return x @ r


@contextlib.contextmanager
def traceable(module: nn.Module) -> Iterator[None]:
    """Run Hugging Face attention as plain ops while the dependency graph traces the model.

    Fused attention kernels (sdpa) hide how query heads share key/value heads, and RoPE's
    slicing confuses index mapping; eager attention and a slice-free rotation trace cleanly.
    Both are put back afterwards, so the model runs exactly as before. The rotation is patched
    in the modelling module, so two models must not be traced at the same time in one process.
    """
    configs, patched, caches = {}, {}, {}
    for sub in module.modules():
        cfg = getattr(sub, "config", None)
        impl = getattr(cfg, "_attn_implementation", None)
        if impl is not None and id(cfg) not in configs:
            configs[id(cfg)] = (cfg, impl)
            if getattr(cfg, "use_cache", None) is not None:
                caches[id(cfg)] = cfg.use_cache
        mod = sys.modules.get(type(sub).__module__)
        if mod is not None and callable(getattr(mod, "rotate_half", None)) and mod not in patched:
            patched[mod] = mod.rotate_half
    try:
        for cfg, _ in configs.values():
            cfg._attn_implementation = "eager"
            if id(cfg) in caches:  # a KV cache's concat confuses index mapping (GPT-2)
                cfg.use_cache = False
        for mod in patched:
            mod.rotate_half = _rotate_half
        yield
    finally:
        for cfg, impl in configs.values():
            cfg._attn_implementation = impl
            if id(cfg) in caches:
                cfg.use_cache = caches[id(cfg)]
        for mod, fn in patched.items():
            mod.rotate_half = fn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode for a while, then every submodule's own mode back (a wrapper in train mode
    may hold an inner model in eval mode; module.train(flag) would flatten that)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def build_graph(module: nn.Module, example: tuple[torch.Tensor, ...]) -> tp.DependencyGraph:
    """torch-pruning's dependency graph of `module`, traced in eval mode on `example`
    (GPT-2's Conv1D layers get their own pruner: torch-pruning has none for them)."""
    from engine.methods.prune.structured_local import custom_pruners

    with eval_mode(module), traceable(module), warnings.catch_warnings():
        # norms on the residual stream show up as "unwrapped parameters"; we never cut it
        warnings.simplefilter("ignore")
        return tp.DependencyGraph().build_dependency(
            module, example_inputs=example, verbose=False,
            customized_pruners=custom_pruners(module) or None,
        )  # fmt: skip


def probe_inputs(module: nn.Module, task: str = "generic") -> tuple[torch.Tensor, ...]:
    """Small inputs the module runs on: token ids for text models, an image-like tensor for convs."""
    device = next(module.parameters()).device
    first = next((m for m in module.modules() if isinstance(m, (nn.Embedding, *CONV_TYPES))), None)
    candidates: list[tuple[torch.Tensor, ...]] = []
    if task in ("causal-lm", "classification") or isinstance(first, nn.Embedding):
        ids = torch.ones(1, 8, dtype=torch.long, device=device)  # id 1 exists in any vocabulary
        candidates += [(ids, torch.ones_like(ids)), (ids,)]
    if isinstance(first, CONV_TYPES):
        dims = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(first)]
        for size in (32, 28, 64, 224, 16):
            candidates.append((torch.randn(1, first.in_channels, *([size] * dims), device=device),))
    with eval_mode(module):
        for args in candidates:
            try:
                with torch.no_grad():
                    module(*args)
            except Exception:  # the wrong guess of an input size raises; try the next one
                continue
            return args
    raise ValueError(
        "cannot find an input this model runs on to trace its layers; structured pruning of "
        "generic models supports token-id inputs and Conv1d/2d/3d inputs of common sizes"
    )
