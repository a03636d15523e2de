"""Semi-structured N:M pruning: in every group of M consecutive input weights, keep N.

2:4 is the pattern sparse tensor cores (NVIDIA Ampere and later) run at up to 2x the
dense speed; other N:M patterns are useful for research and for CPU runtimes that pack
them. Groups run along the input dimension of Linear layers (the reduction dimension of
the matmul), which is the layout those kernels expect. The mask is held through
fine-tuning exactly like unstructured masks. After an earlier masking step, each group keeps
its N best weights among those still alive, and the N:M mask is ANDed with the earlier one:
a weight removed before stays removed (a group may then keep fewer than N).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from engine.config_fields import option
from engine.methods.base import MethodContext, MethodResult
from engine.methods.prune.importance import among_alive, layer_scores, taylor_saliency
from engine.methods.prune.masks import (
    DEFAULT_EXCLUDE,
    alive_masks,
    fold_masks,
    layer_sparsity,
    narrow_mask,
    overall_sparsity,
    scope_problems,
    select_targets,
)
from engine.methods.prune.schedule import LayerWatcher
from engine.registry import register_method


@dataclass(frozen=True)
class NMPruneConfig:
    n: int = option(2, min=1, max=64, label="N (kept)", help="weights kept in each group")
    m: int = option(4, min=2, max=64, label="M (group)", help="consecutive input weights per group")
    criterion: str = option(
        "magnitude",
        choices=("magnitude", "taylor"),
        help="which weights of a group to keep: largest |w| or largest |w·dL/dw|",
    )
    include: tuple[str, ...] = option(
        default_factory=lambda: ("*",), help="layer name patterns to prune (fnmatch)"
    )
    exclude: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_EXCLUDE,
        help="layer name patterns left dense (embeddings and the output head by default)",
    )
    calibration_batches: int = option(4, min=1, max=1000, help="batches of gradients to accumulate",
                                      shown_when={"criterion": ("taylor",)})

    def extra_checks(self) -> list[tuple[str, str]]:
        if self.n >= self.m:
            return [("n", f"must be less than m (keep N of every M), got {self.n}:{self.m}")]
        return []


def _targets(cfg: NMPruneConfig, module: nn.Module) -> list[tuple[str, nn.Module]]:
    return select_targets(module, cfg.include, cfg.exclude, ("linear",))


def check_nm(cfg: NMPruneConfig, module: nn.Module) -> list[str]:
    """No Linear layer in scope, or an input width that does not split into groups of M."""
    problems = scope_problems(module, cfg.include, cfg.exclude, ("linear",))
    if problems:
        return problems
    bad = [f"{n} ({m.in_features})" for n, m in _targets(cfg, module) if m.in_features % cfg.m]
    if bad:
        return [f"{cfg.n}:{cfg.m} needs input widths divisible by {cfg.m}; not: "
                f"{', '.join(bad[:4])}; exclude those layers or pick another M"]
    return []


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the top-n scores of every m consecutive entries along the last dimension."""
    out_f, in_f = scores.shape
    groups = scores.reshape(out_f, in_f // m, m)
    keep = torch.topk(groups, n, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.float32)
    mask.scatter_(-1, keep, 1.0)
    return mask.reshape(out_f, in_f)


def preview_nm(cfg: NMPruneConfig, module: nn.Module) -> dict[str, int]:
    """Exactly (M-N)/M of the targeted weights go."""
    problems = check_nm(cfg, module)
    if problems:
        raise ValueError(problems[0])
    targeted = sum(m.weight.numel() for _, m in _targets(cfg, module))
    return {"layers": len(_targets(cfg, module)), "targeted": targeted,
            "removed": targeted * (cfg.m - cfg.n) // cfg.m}


@register_method(
    "nm_prune",
    "prune",
    "N:M semi-structured pruning (2:4 ...)",
    NMPruneConfig,
    help="Keep N of every M input weights of each Linear; 2:4 runs fast on sparse tensor cores.",
    preview=preview_nm,
    check=check_nm,
    rank=10,
    effect="masks",
    finalize=fold_masks,
    runtime_note=lambda method, provider: nm_runtime_note(method, provider),
)
def apply_nm(cfg: NMPruneConfig, ctx: MethodContext) -> MethodResult:
    """Attach N:M masks to every targeted Linear layer (held through fine-tuning)."""
    problems = check_nm(cfg, ctx.module)
    if problems:
        raise ValueError(problems[0])
    layers = dict(_targets(cfg, ctx.module))
    watcher = LayerWatcher(layers, ctx.module, ctx.emit)
    watcher.before()
    taylor = None
    if cfg.criterion == "taylor":
        taylor = taylor_saliency(ctx.module, layers, ctx.task, ctx.data, cfg.calibration_batches,
                                 ctx.batch_size, ctx.device, ctx.seed)
    scores = layer_scores(cfg.criterion, layers, ctx.seed, taylor)
    alive = alive_masks(layers)
    for name, layer in layers.items():
        narrow_mask(layer, nm_mask(among_alive(scores[name], alive[name]), cfg.n, cfg.m))
    got = watcher.report(0)
    names = list(layers)
    ctx.log(f"{cfg.n}:{cfg.m} pruning ({cfg.criterion}) zeroed {got:.1%} of {len(names)} layers")
    return MethodResult(targets=names, layer_sparsity=layer_sparsity(ctx.module, names),
                        summary={"sparsity": overall_sparsity(ctx.module, names),
                                 "pattern": f"{cfg.n}:{cfg.m}"})


_NM_TEXT = re.compile(r"nm_prune\(n=(\d+), m=(\d+)")


def nm_runtime_note(method: str, provider: str) -> str:
    """Why N:M zeros do not speed up onnxruntime here (the card's method text names N and M)."""
    m = _NM_TEXT.search(method)
    pattern = f"{m.group(1)}:{m.group(2)}" if m else "N:M"
    device = "CUDA" if provider.startswith("CUDA") else "CPU"
    if pattern == "2:4":
        return (
            "2:4 sparsity needs sparse tensor cores (e.g. NVIDIA Ampere+ with TensorRT); "
            f"onnxruntime's {device} kernels run it dense"
        )
    return (
        f"{pattern} sparsity has no fast kernel in common runtimes (sparse tensor cores run "
        f"only 2:4); onnxruntime's {device} kernels run it dense"
    )
