"""Structured pruning: remove whole FFN neurons, attention heads or conv channels.

Unlike masks, this makes tensors smaller, so the saved model, its ONNX export and every
runtime do less work. torch-pruning's dependency graph does the cutting: given the channels
of one layer it finds every coupled tensor (the up and gate projections of an FFN, the q/k/v
rows of a head, the batch norm and next conv of a channel) and slices them together. We pick
which units go (L1/L2 norm or first-order Taylor importance of the whole coupled group),
check that the graph cut exactly the layers the architecture says it should, and keep the
modules' own bookkeeping (head counts, HF config sizes) in step with the new shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch_pruning as tp
from torch import nn

from engine.config_fields import option
from engine.methods.base import MethodContext, MethodResult
from engine.methods.masks import DEFAULT_EXCLUDE
from engine.methods.structured_checks import (  # noqa: F401 (NONE_FOUND: re-exported)
    NONE_FOUND,
    SITE_NAMES,
    analyse_sites,
    check_structured,
    preview_structured,
)
from engine.methods.structured_cut import (
    calibration_grads,
    checked_group,
    importance,
    plan_units,
    sync_attrs,
    sync_hf_config,
    unit_scores,
)
from engine.methods.structured_targets import (
    CONV_TYPES,
    UNIT_NAMES,
    Site,
    build_graph,
    eval_mode,
    probe_inputs,
)
from engine.registry import register_method

TARGETS = ("ffn", "heads", "channels")


@dataclass(frozen=True)
class StructuredPruneConfig:
    target: str = option(
        "ffn",
        choices=TARGETS,
        help="what loses whole units: ffn = hidden neurons of FFN/MLP blocks, heads = attention "
        "heads (whole key/value groups under grouped-query attention), channels = conv "
        "output channels",
    )
    amount: float = option(
        0.5,
        min=0.0,
        max=1.0,
        max_exclusive=True,
        help="fraction of the targeted units removed (neurons, heads or channels)",
    )
    importance: str = option(
        "l1",
        choices=("l1", "l2", "taylor"),
        help="how units are ranked: L1 or L2 norm of all their coupled weights, or Taylor "
        "|w * dL/dw| from a few training batches (needs data)",
    )
    scope: str = option(
        "layer",
        choices=("global", "layer"),
        help="layer: the same fraction in every block (uniform widths); global: one ranking over "
        "all blocks, so the least important blocks lose more (at least one unit stays in each)",
    )
    include: tuple[str, ...] = option(
        default_factory=lambda: ("*",),
        help="block or layer name patterns to prune (fnmatch, e.g. *.layer.[0-2].*)",
    )
    exclude: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_EXCLUDE,
        help="name patterns left whole (embeddings and the output head are never pruned)",
    )
    calibration_batches: int = option(
        4,
        min=1,
        max=1000,
        help="training batches whose gradients Taylor importance sums",
        shown_when={"importance": ("taylor",)},
    )
    round_to: int | None = option(
        None,
        min=1,
        max=4096,
        help="keep FFN neuron and conv channel counts multiples of this (e.g. 8 for fast "
        "kernels); empty = exact amount",
        advanced=True,
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        if not self.include:
            return [("include", "is empty; use ['*'] to target every block")]
        return []


# -- the handler ------------------------------------------------------------------------------
def _layer_params(module: nn.Module) -> dict[str, int]:
    return {
        n: sum(p.numel() for p in m.parameters(recurse=False))
        for n, m in module.named_modules()
        if isinstance(m, (nn.Linear, *CONV_TYPES))
    }


def _fmt(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _run(module: nn.Module, example: tuple[torch.Tensor, ...]) -> torch.Size:
    with eval_mode(module), torch.no_grad():
        return module(*example).shape


def _check_ready(cfg: StructuredPruneConfig, ctx: MethodContext) -> None:
    """Refuse a run that cannot work: Taylor without data, or a model already masked."""
    if cfg.importance == "taylor" and getattr(ctx.data, "train", None) is None:
        raise ValueError(
            "importance taylor needs data to compute gradients: set data.source, or use "
            "importance l1 or l2"
        )
    masked = [n for n, m in ctx.module.named_modules() if hasattr(m, "weight_orig")]
    if masked:  # a mask's forward hook would rebuild the old-sized weight over the cut one
        raise ValueError(
            f"{masked[0]} already carries a pruning mask from an earlier step; put "
            "structured_prune before unstructured or N:M pruning in the recipe"
        )


def _unit_scores(
    cfg: StructuredPruneConfig, ctx: MethodContext, sites: list[Site], graph: tp.DependencyGraph
) -> list[torch.Tensor]:
    """Each site's unit importances (Taylor sums calibration gradients first; grads cleared)."""
    try:
        if cfg.importance == "taylor":
            calibration_grads(ctx, cfg.calibration_batches)
        imp = importance(cfg.importance, cfg.target)
        return [unit_scores(s, graph, imp) for s in sites]
    finally:
        ctx.module.zero_grad(set_to_none=True)


def _cut(
    module: nn.Module,
    sites: list[Site],
    graph: tp.DependencyGraph,
    plan: list[list[int]],
    example: tuple[torch.Tensor, ...],
    out_shape: torch.Size,
) -> None:
    """Remove the planned units, sync the modules' bookkeeping, check the model still runs."""
    names = {m: n for n, m in module.named_modules()}
    # every group is built and checked before the first cut: a refusal leaves the model whole
    groups = [
        checked_group(s, graph, units, names) for s, units in zip(sites, plan, strict=True) if units
    ]
    for group in groups:
        group.prune()
    for s in sites:
        sync_attrs(s)
    sync_hf_config(module)
    try:
        shape = _run(module, example)
    except Exception as exc:
        raise RuntimeError(
            f"the pruned model no longer runs ({type(exc).__name__}: {exc})"
        ) from exc
    if shape != out_shape:
        raise RuntimeError(f"pruning changed the output shape {tuple(out_shape)} -> {tuple(shape)}")


@register_method(
    "structured_prune",
    "prune",
    "Structured pruning (neurons / heads / channels)",
    StructuredPruneConfig,
    help="Remove whole FFN neurons, attention heads or conv channels: tensors shrink, so the "
    "exported model is smaller and faster.",
    preview=preview_structured,
    check=check_structured,
    rank=20,
    effect="shrink",
)
def apply_structured(cfg: StructuredPruneConfig, ctx: MethodContext) -> MethodResult:
    """Cut the lowest-importance units out of ctx.module in place (tensors shrink)."""
    module = ctx.module
    _check_ready(cfg, ctx)
    example = ctx.example_inputs or probe_inputs(module, ctx.task)
    out_shape = _run(module, example)
    graph = build_graph(module, example)
    sites, problems = analyse_sites(cfg, module, graph)
    if problems:
        raise ValueError("; ".join(problems))
    params_before, layers_before = _count(module), _layer_params(module)
    plan = plan_units(cfg, sites, _unit_scores(cfg, ctx, sites, graph))
    _cut(module, sites, graph, plan, example, out_shape)

    after = _layer_params(module)
    shrunk = {
        n: 1.0 - after[n] / b for n, b in layers_before.items() if n in after and after[n] < b
    }
    # under grouped-query attention a unit is a key/value group: count the heads it holds
    per = [s.q_per_unit for s in sites]
    removed = sum(len(u) * h for u, h in zip(plan, per, strict=True))
    total = sum(s.units * h for s, h in zip(sites, per, strict=True))
    params_after = _count(module)
    gqa = " (whole key/value groups)" if max(per, default=1) > 1 else ""
    ctx.log(
        f"structured ({cfg.importance}, {cfg.scope}): removed {removed} of {total} "
        f"{UNIT_NAMES[cfg.target]}{gqa} in {len(sites)} {SITE_NAMES[cfg.target]}s, "
        f"{_fmt(params_before - params_after)} params ({_fmt(params_before)} -> "
        f"{_fmt(params_after)})"
    )
    return MethodResult(
        targets=sorted(shrunk),
        layer_sparsity=shrunk,
        summary={
            "params_before": params_before,
            "params_after": params_after,
            "units_removed": removed,
            "units_total": total,
            "unit": UNIT_NAMES[cfg.target],
        },
        structured=True,
    )
