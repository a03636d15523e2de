"""Unstructured pruning: zero individual weights by importance, at once or on a schedule.

Criteria: L1 magnitude, random (a baseline), first-order Taylor saliency. Scope: global
(one ranking over every targeted layer) or layer (the same fraction in each), with
per-layer overrides. Mode `amount` removes an exact fraction; mode `threshold` removes
every weight scoring below a value and reports the sparsity that gave. Masks live on the
layers (engine.methods.prune.masks) so pruned weights stay zero through fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.config_fields import option
from engine.methods.base import MethodContext, MethodResult
from engine.methods.prune.importance import (
    CRITERIA,
    among_alive,
    global_masks,
    layer_scores,
    mask_fraction,
    taylor_saliency,
)
from engine.methods.prune.masks import (
    DEFAULT_EXCLUDE,
    DEFAULT_TYPES,
    LAYER_TYPES,
    alive_masks,
    effective_weight,
    fold_masks,
    layer_sparsity,
    matches,
    narrow_mask,
    overall_sparsity,
    scope_problems,
    select_targets,
)
from engine.methods.prune.schedule import (
    SCHEDULES,
    LayerWatcher,
    MaskScheduleHook,
    SparsitySchedule,
)
from engine.registry import register_method


@dataclass(frozen=True)
class UnstructuredPruneConfig:
    criterion: str = option(
        "magnitude",
        choices=CRITERIA,
        help="magnitude: smallest |w|; random: a baseline; taylor: smallest |w·dL/dw| "
        "over calibration batches",
    )
    mode: str = option(
        "amount",
        choices=("amount", "threshold"),
        help="amount: remove an exact fraction; threshold: remove scores below a value",
    )
    amount: float = option(
        0.5, min=0.0, max=1.0, max_exclusive=True, help="fraction of the targeted weights set to zero",
        shown_when={"mode": ("amount",)},
    )
    threshold: float = option(
        0.01, min=0.0, help="weights scoring below this are removed (|w| for magnitude)",
        shown_when={"mode": ("threshold",)},
    )
    scope: str = option(
        "global",
        choices=("global", "layer"),
        help="global: one ranking over all targeted layers; layer: the same fraction in each",
    )
    include: tuple[str, ...] = option(
        default_factory=lambda: ("*",), help="layer name patterns to prune (fnmatch, e.g. *.mlp.*)"
    )
    exclude: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_EXCLUDE,
        help="layer name patterns left dense (embeddings and the output head by default)",
    )
    types: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_TYPES,
        help=f"layer types to prune: {', '.join(LAYER_TYPES)}",
        advanced=True,
    )
    overrides: dict[str, float] = option(
        default_factory=dict,
        help="per-layer amounts, layer name or pattern -> fraction, e.g. {'*.0.*': 0.2}",
    )
    schedule: str = option(
        "oneshot",
        choices=SCHEDULES,
        help="oneshot: prune once, then fine-tune; iterative: rounds of prune -> fine-tune; "
        "gradual: cubic ramp during fine-tuning",
    )
    rounds: int = option(3, min=1, max=100, help="number of prune -> fine-tune rounds",
                         shown_when={"schedule": ("iterative",)})
    initial_sparsity: float = option(
        0.0, min=0.0, max=1.0, max_exclusive=True, help="sparsity at the start step",
        shown_when={"schedule": ("gradual",)},
    )
    start_step: int = option(0, min=0, help="first step of the ramp",
                             shown_when={"schedule": ("gradual",)})
    end_step: int | None = option(
        None, min=1, help="step the final sparsity is reached (empty: 75% of training)",
        shown_when={"schedule": ("gradual",)},
    )
    update_every: int = option(10, min=1, help="steps between mask updates",
                               shown_when={"schedule": ("gradual",)})
    calibration_batches: int = option(
        4, min=1, max=1000, help="batches of gradients to accumulate",
        shown_when={"criterion": ("taylor",)},
    )
    seed: int = option(0, min=0, help="random criterion seed", advanced=True)

    def extra_checks(self) -> list[tuple[str, str]]:
        errs = []
        if not self.include:
            errs.append(("include", "is empty; use ['*'] to target every Linear/Conv layer"))
        if not self.types:
            errs.append(("types", f"is empty; use some of {', '.join(LAYER_TYPES)}"))
        for pattern, value in self.overrides.items():
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                errs.append(("overrides", f"{pattern!r}: amount must be in [0, 1), got {value!r}"))
        if self.mode == "threshold":
            if self.criterion == "random":
                errs.append(("mode", "threshold needs criterion magnitude or taylor (random "
                             "scores carry no scale); use mode amount"))
            if self.schedule != "oneshot":
                errs.append(("schedule", "threshold mode prunes once; use schedule oneshot or "
                             "mode amount"))
        if self.schedule == "gradual":
            if self.initial_sparsity > self.amount:
                errs.append(("initial_sparsity", f"({self.initial_sparsity:g}) is above the final "
                             f"amount ({self.amount:g}); sparsity only grows"))
            if self.end_step is not None and self.end_step <= self.start_step:
                errs.append(("end_step", f"must be after start_step ({self.start_step}), got "
                             f"{self.end_step}"))
        return errs


def _split(cfg: UnstructuredPruneConfig, names: list[str]) -> tuple[dict[str, float], list[str]]:
    """(layers with their own override amount, layers following the common amount)."""
    own: dict[str, float] = {}
    for n in names:
        hit = next((v for p, v in cfg.overrides.items() if matches(n, (p,))), None)
        if hit is not None:
            own[n] = float(hit)
    return own, [n for n in names if n not in own]


def compute_masks(
    cfg: UnstructuredPruneConfig,
    layers: dict[str, nn.Module],
    scores: dict[str, torch.Tensor],
    scale: float = 1.0,
    alive: dict[str, torch.Tensor | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Masks for every layer; `scale` shrinks every amount (a schedule's partial target).

    `alive` (from `alive_masks` when the step started) holds what earlier steps left: amounts
    are fractions of those weights, and the weights earlier steps removed stay removed.
    """
    alive = alive or {}
    scores = {n: among_alive(scores[n], alive.get(n)) for n in layers}
    if cfg.mode == "threshold":
        return {n: (scores[n] >= cfg.threshold).float() for n in layers}
    own, common = _split(cfg, list(layers))
    amount = cfg.amount * scale
    masks = {n: mask_fraction(scores[n], a * scale) for n, a in own.items()}
    if cfg.scope == "global":
        masks.update(global_masks({n: scores[n] for n in common}, amount))
    else:
        masks.update({n: mask_fraction(scores[n], amount) for n in common})
    return masks


def check_unstructured(cfg: UnstructuredPruneConfig, module: nn.Module) -> list[str]:
    """Scope and override patterns that match nothing in this model."""
    problems = scope_problems(module, cfg.include, cfg.exclude, cfg.types)
    if problems:
        return problems
    names = [n for n, _ in select_targets(module, cfg.include, cfg.exclude, cfg.types)]
    for pattern in cfg.overrides:
        if not any(matches(n, (pattern,)) for n in names):
            problems.append(f"override {pattern!r} matches no targeted layer; targeted layers "
                            f"look like: {', '.join(names[:4])}")
    return problems


def preview_unstructured(cfg: UnstructuredPruneConfig, module: nn.Module) -> dict[str, int]:
    """Parameters pruning would zero, without touching the model (for live estimates)."""
    problems = check_unstructured(cfg, module)
    if problems:
        raise ValueError(problems[0])
    targets = select_targets(module, cfg.include, cfg.exclude, cfg.types)
    own, _ = _split(cfg, [n for n, _ in targets])
    targeted = removed = 0
    for n, m in targets:
        size = m.weight.numel()
        targeted += size
        if cfg.mode == "threshold":
            removed += int((effective_weight(m).abs() < cfg.threshold).sum())
        else:
            removed += int(round(own.get(n, cfg.amount) * size))
    return {"layers": len(targets), "targeted": targeted, "removed": removed}


@register_method(
    "unstructured_prune",
    "prune",
    "Unstructured pruning (magnitude / random / Taylor)",
    UnstructuredPruneConfig,
    help="Zero individual weights by importance; masks stay through fine-tuning. Shrinks the "
    "zip size, not dense-kernel latency.",
    preview=preview_unstructured,
    check=check_unstructured,
    aliases=("magnitude_prune",),
    rank=0,
    effect="masks",
    finalize=fold_masks,
)
def apply_unstructured(cfg: UnstructuredPruneConfig, ctx: MethodContext) -> MethodResult:
    """Attach masks now (the schedule's first target) and return a hook for the rest."""
    problems = check_unstructured(cfg, ctx.module)
    if problems:
        raise ValueError(problems[0])
    layers = dict(select_targets(ctx.module, cfg.include, cfg.exclude, cfg.types))
    schedule = SparsitySchedule(
        cfg.schedule, cfg.amount, ctx.total_steps, cfg.initial_sparsity, cfg.start_step,
        cfg.end_step, cfg.update_every, cfg.rounds,
    )  # fmt: skip
    if cfg.schedule != "oneshot" and ctx.total_steps <= 0:
        ctx.log(f"schedule {cfg.schedule} needs fine-tuning steps; pruning once instead")
    watcher = LayerWatcher(layers, ctx.module, ctx.emit)
    watcher.before()
    # what earlier steps left alive, fixed for this step's whole schedule: every round's
    # target is a fraction of these weights, and the rounds' own zeros score 0 so they stay
    alive = alive_masks(layers)

    def apply(target: float) -> None:
        scale = target / cfg.amount if cfg.amount > 0 else 0.0
        taylor = None
        if cfg.criterion == "taylor":
            taylor = taylor_saliency(ctx.module, layers, ctx.task, ctx.data,
                                     cfg.calibration_batches, ctx.batch_size, ctx.device, cfg.seed)
        scores = layer_scores(cfg.criterion, layers, cfg.seed, taylor)
        for name, mask in compute_masks(cfg, layers, scores, scale, alive).items():
            narrow_mask(layers[name], mask)

    apply(schedule.target_at(0))
    names = list(layers)
    got = watcher.report(0)
    hooks = []
    if schedule.update_steps():
        hook = MaskScheduleHook(schedule, apply, watcher, ctx.log)
        hook.announce()
        hooks.append(hook)
    what = f"threshold {cfg.threshold:g}" if cfg.mode == "threshold" else f"{cfg.scope}"
    ctx.log(
        f"unstructured pruning ({cfg.criterion}, {what}, {cfg.schedule}) zeroed {got:.1%} of "
        f"{len(names)} layers" + (f"; final target {cfg.amount:.1%}" if hooks else "")
    )
    return MethodResult(targets=names, layer_sparsity=layer_sparsity(ctx.module, names),
                        summary={"sparsity": overall_sparsity(ctx.module, names)}, hooks=hooks)
