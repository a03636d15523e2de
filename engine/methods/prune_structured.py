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
from engine.methods.masks import DEFAULT_EXCLUDE, matches
from engine.methods.structured_cut import (
    calibration_grads,
    checked_group,
    global_total,
    importance,
    layer_count,
    min_keep,
    plan_units,
    sync_attrs,
    sync_hf_config,
    unit_scores,
)
from engine.methods.structured_targets import (
    CONV_TYPES,
    UNIT_NAMES,
    Site,
    attention_sites,
    build_graph,
    conv_sites,
    describe,
    eval_mode,
    ffn_sites,
    probe_inputs,
    removed_params,
)
from engine.registry import register_method

TARGETS = ("ffn", "heads", "channels")
SITE_NAMES = {"ffn": "FFN block", "heads": "attention module", "channels": "conv channel group"}
NONE_FOUND = {
    "ffn": "no FFN/MLP block found (known layouts: fc/proj, gate_proj/up_proj/down_proj, "
    "intermediate.dense/output.dense, fc1/fc2); use target heads or channels",
    "heads": "no attention heads found (known layouts: fused qkv + proj with a head count, "
    "q_proj/k_proj/v_proj + o_proj, BERT query/key/value + output.dense); use target ffn",
    "channels": "no prunable Conv channels found: target channels is for convolutional "
    "models (a conv feeding the model output directly is never cut); use target ffn or heads "
    "for transformers",
}


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


# -- which sites a config targets, and what is wrong with it on a given model ----------------
def _site_matches(site: Site, patterns: tuple[str, ...]) -> bool:
    return matches(site.name, patterns) or any(matches(n, patterns) for n in site.layers)


def _all_sites(
    cfg: StructuredPruneConfig, module: nn.Module, graph: tp.DependencyGraph | None = None
) -> list[Site]:
    if cfg.target == "ffn":
        return ffn_sites(module)
    if cfg.target == "heads":
        return attention_sites(module)
    if not any(isinstance(m, CONV_TYPES) for m in module.modules()):
        return []
    return conv_sites(module, graph or build_graph(module, probe_inputs(module)), cfg.exclude)


def _unit_word(site: Site, n: int) -> str:
    if site.kind == "heads" and site.q_per_unit > 1:
        return f"{n} key/value groups ({n * site.q_per_unit} heads)"
    return f"{n} {UNIT_NAMES[site.kind].split()[-1]}"


def _pattern_problems(
    cfg: StructuredPruneConfig, module: nn.Module, sites: list[Site]
) -> list[str]:
    kind = SITE_NAMES[cfg.target]
    names = [n for n, _ in module.named_modules() if n]
    out = []
    for p in cfg.include:
        if any(_site_matches(s, (p,)) for s in sites):
            continue
        hit = [n for n in names if matches(n, (p,))]
        if hit:
            out.append(
                f"{hit[0]} cannot be structurally pruned with target {cfg.target}: it is not part "
                f"of any {kind} (embeddings and output heads are never pruned); {kind}s look "
                f"like: {describe(sites)}"
            )
        else:
            out.append(
                f"include pattern {p!r} matches no layer; {kind}s look like: {describe(sites)}; "
                f"use e.g. ['{sites[0].name}*'] or ['*']"
            )
    return out


def _amount_problems(cfg: StructuredPruneConfig, sites: list[Site]) -> list[str]:
    if cfg.scope == "global":
        total = global_total(cfg, sites)
        room = sum(max(0, s.units - min_keep(cfg, s)) for s in sites)
        if total > room:
            return [
                f"amount {cfg.amount:g} would remove {total} {UNIT_NAMES[cfg.target]} but only "
                f"{room} can go while every {SITE_NAMES[cfg.target]} keeps at least "
                f"{_unit_word(sites[0], min_keep(cfg, sites[0]))}; lower amount or round_to"
            ]
        return []
    out = []
    for s in sites:
        if cfg.round_to and s.kind != "heads" and cfg.round_to > s.units:
            out.append(f"round_to {cfg.round_to} is more than the {_unit_word(s, s.units)} of "
                       f"{s.name}; lower round_to")  # fmt: skip
        elif layer_count(cfg, s) >= s.units:
            limit = (s.units - 0.5) / s.units
            out.append(
                f"amount {cfg.amount:g} would remove all {_unit_word(s, s.units)} of {s.name}; "
                f"use amount below {limit:.3g} so at least one stays"
            )
        if len(out) >= 2:
            break
    return out


def _analyse(
    cfg: StructuredPruneConfig, module: nn.Module, graph: tp.DependencyGraph | None = None
) -> tuple[list[Site], list[str]]:
    """(selected sites, problems a person can act on); no problems means it can run."""
    try:
        sites = _all_sites(cfg, module, graph)
    except ValueError as exc:
        return [], [str(exc)]
    if not sites:
        return [], [NONE_FOUND[cfg.target]]
    problems = _pattern_problems(cfg, module, sites)
    chosen = [
        s for s in sites if _site_matches(s, cfg.include) and not _site_matches(s, cfg.exclude)
    ]
    if not chosen and not problems:
        problems.append(
            f"include={list(cfg.include)} exclude={list(cfg.exclude)} match no "
            f"{SITE_NAMES[cfg.target]}; they look like: {describe(sites)}"
        )
    if chosen and not problems:
        problems += _amount_problems(cfg, chosen)
    return chosen, problems


def check_structured(cfg: StructuredPruneConfig, module: nn.Module) -> list[str]:
    """Model-dependent problems (nothing to prune, patterns, amounts), before anything runs."""
    return _analyse(cfg, module)[1]


def preview_structured(cfg: StructuredPruneConfig, module: nn.Module) -> dict[str, int]:
    """Parameters in the targeted units and those pruning would remove, model untouched."""
    sites, problems = _analyse(cfg, module)
    if problems:
        raise ValueError(problems[0])
    if cfg.scope == "layer":
        counts = [layer_count(cfg, s) for s in sites]
    else:  # which sites lose more depends on importance: estimate with an even spread
        counts = [round(cfg.amount * s.units) for s in sites]
    return {
        "layers": len({n for s in sites for n in s.layers}),
        "targeted": removed_params(sites, [s.units for s in sites]),
        "removed": removed_params(sites, counts),
    }


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
    if cfg.importance == "taylor" and getattr(ctx.data, "train", None) is None:
        raise ValueError(
            "importance taylor needs data to compute gradients: set data.source, or use "
            "importance l1 or l2"
        )
    masked = [n for n, m in module.named_modules() if hasattr(m, "weight_orig")]
    if masked:  # a mask's forward hook would rebuild the old-sized weight over the cut one
        raise ValueError(
            f"{masked[0]} already carries a pruning mask from an earlier step; put "
            "structured_prune before unstructured or N:M pruning in the recipe"
        )
    example = ctx.example_inputs or probe_inputs(module, ctx.task)
    out_shape = _run(module, example)
    graph = build_graph(module, example)
    sites, problems = _analyse(cfg, module, graph)
    if problems:
        raise ValueError("; ".join(problems))
    names = {m: n for n, m in module.named_modules()}
    params_before, layers_before = _count(module), _layer_params(module)

    try:
        if cfg.importance == "taylor":
            calibration_grads(ctx, cfg.calibration_batches)
        imp = importance(cfg.importance, cfg.target)
        scores = [unit_scores(s, graph, imp) for s in sites]
    finally:
        module.zero_grad(set_to_none=True)
    plan = plan_units(cfg, sites, scores)
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
