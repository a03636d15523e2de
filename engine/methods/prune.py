"""Unstructured magnitude pruning (L1), layer-wise or global.

Masks are applied with `torch.nn.utils.prune`, which keeps `weight_orig` and a
`weight_mask` buffer and recomputes `weight = weight_orig * mask` before every
forward. That is what keeps pruned weights at exactly zero through fine-tuning,
whatever the optimizer does to `weight_orig` (momentum, Adam state, weight decay).
`make_permanent` folds the masks in at the end so the saved and exported model
has plain zero weights.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from engine.config_fields import option
from engine.methods.base import MethodContext, MethodResult
from engine.registry import register_method

PRUNABLE_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
DEFAULT_EXCLUDE = ("*embed*", "*emb", "*lm_head*", "*classifier*", "*score")


@dataclass(frozen=True)
class MagnitudePruneConfig:
    amount: float = option(
        0.5,
        min=0.0,
        max=1.0,
        max_exclusive=True,
        help="fraction of the targeted weights set to zero",
    )
    scope: str = option(
        "global",
        choices=("global", "layer"),
        help="global: one threshold over all targeted layers; layer: the same fraction in each layer",
    )
    include: tuple[str, ...] = option(
        default_factory=lambda: ("*",),
        help="layer name patterns to prune (fnmatch, e.g. *.mlp.*)",
    )
    exclude: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_EXCLUDE,
        help="layer name patterns to leave dense (embeddings and output head by default)",
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        errs = []
        if not self.include:
            errs.append(("include", "is empty; use ['*'] to target every Linear/Conv layer"))
        return errs


def select_targets(
    module: nn.Module, include: tuple[str, ...], exclude: tuple[str, ...]
) -> list[tuple[str, nn.Module]]:
    """Linear/Conv layers whose names match `include` and none of `exclude`."""
    out = []
    for name, sub in module.named_modules():
        if not isinstance(sub, PRUNABLE_TYPES) or not name:
            continue
        if any(fnmatch.fnmatch(name, p) for p in include) and not any(
            fnmatch.fnmatch(name, p) for p in exclude
        ):
            out.append((name, sub))
    return out


def _targets_or_error(module: nn.Module, cfg: MagnitudePruneConfig) -> list[tuple[str, nn.Module]]:
    targets = select_targets(module, cfg.include, cfg.exclude)
    if not targets:
        layers = [n for n, m in module.named_modules() if isinstance(m, PRUNABLE_TYPES)][:6]
        raise ValueError(
            f"pruning patterns include={list(cfg.include)} exclude={list(cfg.exclude)} match no "
            f"Linear/Conv layer; layer names look like: {', '.join(layers) or '(none)'}"
        )
    return targets


def preview_magnitude(cfg: MagnitudePruneConfig, module: nn.Module) -> dict[str, int]:
    """Parameters that pruning would zero, without touching the model (for live estimates)."""
    targets = _targets_or_error(module, cfg)
    targeted = sum(m.weight.numel() for _, m in targets)
    return {
        "layers": len(targets),
        "targeted": targeted,
        "removed": int(round(targeted * cfg.amount)),
    }


@register_method(
    "magnitude_prune",
    "prune",
    "Magnitude pruning (L1, unstructured)",
    MagnitudePruneConfig,
    help="Zero the smallest-magnitude weights; masks stay fixed through fine-tuning.",
    preview=lambda cfg, module: preview_magnitude(cfg, module),
)
def apply_magnitude(cfg: MagnitudePruneConfig, ctx: MethodContext) -> MethodResult:
    """Attach L1 masks to the targeted layers (made permanent after fine-tuning)."""
    targets = _targets_or_error(ctx.module, cfg)
    if cfg.amount > 0:
        if cfg.scope == "global":
            torch_prune.global_unstructured(
                [(m, "weight") for _, m in targets],
                pruning_method=torch_prune.L1Unstructured,
                amount=cfg.amount,
            )
        else:
            for _, m in targets:
                torch_prune.l1_unstructured(m, "weight", amount=cfg.amount)
    names = [n for n, _ in targets]
    sparsity = layer_sparsity(ctx.module, names)
    ctx.log(
        f"magnitude pruning ({cfg.scope}) zeroed {overall_sparsity(ctx.module, names):.1%} "
        f"of {len(names)} layers"
    )
    return MethodResult(targets=names, layer_sparsity=sparsity)


def layer_sparsity(module: nn.Module, names: list[str]) -> dict[str, float]:
    """Fraction of exact zeros in each named layer's weight."""
    mods = dict(module.named_modules())
    out = {}
    with torch.no_grad():
        for n in names:
            w = mods[n].weight
            out[n] = float((w == 0).sum().item()) / w.numel()
    return out


def overall_sparsity(module: nn.Module, names: list[str]) -> float:
    """Fraction of zeros over all the named layers' weights together."""
    mods = dict(module.named_modules())
    zeros = total = 0
    with torch.no_grad():
        for n in names:
            w = mods[n].weight
            zeros += int((w == 0).sum().item())
            total += w.numel()
    return zeros / total if total else 0.0


def make_permanent(module: nn.Module) -> int:
    """Fold every pruning mask into its weight; returns how many layers were folded."""
    count = 0
    for sub in module.modules():
        for hook in list(getattr(sub, "_forward_pre_hooks", {}).values()):
            if isinstance(hook, torch_prune.BasePruningMethod):
                torch_prune.remove(sub, hook._tensor_name)
                count += 1
    return count
