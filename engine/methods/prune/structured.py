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

import dataclasses

import torch
import torch_pruning as tp
from torch import nn

from engine.methods.base import MethodContext, MethodResult
from engine.methods.prune.structured_checks import (  # noqa: F401 (NONE_FOUND: re-exported)
    NONE_FOUND,
    SITE_NAMES,
    analyse_sites,
    check_structured,
    preview_structured,
)
from engine.methods.prune.structured_config import TARGETS, StructuredPruneConfig  # noqa: F401
from engine.methods.prune.structured_cut import (
    calibration_grads,
    checked_group,
    importance,
    plan_units,
    sync_attrs,
    sync_hf_config,
    unit_scores,
)
from engine.methods.prune.structured_layouts import is_conv1d, layouts_for
from engine.methods.prune.structured_local import local_cut, local_unit_scores
from engine.methods.prune.structured_notes import resolve_importance, structured_notes
from engine.methods.prune.structured_record import removed_record
from engine.methods.prune.structured_targets import (
    CONV_TYPES,
    UNIT_NAMES,
    Site,
    build_graph,
    eval_mode,
    probe_inputs,
)
from engine.registry import register_method


# -- the handler ------------------------------------------------------------------------------
def _layer_params(module: nn.Module) -> dict[str, int]:
    return {
        n: sum(p.numel() for p in m.parameters(recurse=False))
        for n, m in module.named_modules()
        if isinstance(m, (nn.Linear, *CONV_TYPES)) or is_conv1d(m)
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
        return [local_unit_scores(s, cfg.importance) if s.local else unit_scores(s, graph, imp)
                for s in sites]  # fmt: skip
    finally:
        ctx.module.zero_grad(set_to_none=True)


def _cut(
    cfg: StructuredPruneConfig,
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
    planned = [(s, units) for s, units in zip(sites, plan, strict=True) if units]
    groups = [checked_group(s, graph, units, names) for s, units in planned if s.fused is None]
    for group in groups:
        group.prune()
    for s, units in planned:  # fused q|k|v projections: the graph cannot map their split
        if s.fused is not None:
            local_cut(s, units)
    for s in sites:
        sync_attrs(s)
    sync_hf_config(module, layouts_for(cfg))
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
    effect="smaller",
)
def apply_structured(cfg: StructuredPruneConfig, ctx: MethodContext) -> MethodResult:
    """Cut the lowest-importance units out of ctx.module in place (tensors shrink)."""
    module = ctx.module
    has_data = getattr(ctx.data, "train", None) is not None
    asked = cfg.importance
    notes = structured_notes(cfg, module, ctx.task, has_data)
    cfg = dataclasses.replace(cfg, importance=resolve_importance(cfg, ctx.task, has_data))
    _check_ready(cfg, ctx)
    example = ctx.example_inputs or probe_inputs(module, ctx.task)
    out_shape = _run(module, example)
    graph = build_graph(module, example)
    sites, problems = analyse_sites(cfg, module, graph)
    if problems:
        raise ValueError("; ".join(problems))
    params_before, layers_before = _count(module), _layer_params(module)
    plan = plan_units(cfg, sites, _unit_scores(cfg, ctx, sites, graph))
    removed_channels = removed_record(module, sites, plan)  # indices before the cut
    _cut(cfg, module, sites, graph, plan, example, out_shape)

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
    for note in notes:
        ctx.log(f"note: {note}")
    return MethodResult(
        targets=sorted(shrunk),
        layer_sparsity=shrunk,
        summary={
            "params_before": params_before,
            "params_after": params_after,
            "units_removed": removed,
            "units_total": total,
            "unit": UNIT_NAMES[cfg.target],
            # for the card's step record: the criterion used (auto resolved) and the notes
            "card": {"importance": cfg.importance, "importance_asked": asked, "notes": notes,
                     "removed_channels": removed_channels},
        },
    )
