"""Per-layer pruning amounts from a sensitivity analysis, reaching a requested overall sparsity.

Each analysed layer has a degradation curve: how much the eval metric got worse when only
that layer was pruned to a given sparsity (0 at sparsity 0, piecewise-linear between the
measured levels). The proposal spends the sparsity budget greedily, a small step at a time,
on the layer whose next step costs the least degradation per pruned parameter, so layers
whose metric collapses early keep low amounts and robust layers take the bulk.

Changes within the evaluation noise (`SensitivityResult.noise`) count as no change: a layer
whose curve stays inside the noise band is as robust as any other such layer, so noise
alone never sends one layer to 95% and another to 0%.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from typing import TYPE_CHECKING, Any

from engine.recipe import Recipe

if TYPE_CHECKING:
    from engine.sensitivity import SensitivityResult

MAX_AMOUNT = 0.95  # no layer is proposed fully pruned: a 100%-zero layer cuts the signal path
NOISE_Z = 2.0  # noise band = 2 standard errors: a change inside it is ~95% compatible with none
MOST = 0.5  # warn when more than this fraction of the layers cannot be told from noise
STEP = 0.01  # greedy increment in layer sparsity: fine enough for 0.5% overall, ~100 steps/layer


def degradation(result: SensitivityResult, metric: float) -> float:
    """How much worse `metric` is than the baseline (>0 = worse), in additive units.

    Accuracy: the drop in accuracy. Perplexity: the rise in log-perplexity (= mean loss),
    because per-layer loss increases roughly add up while perplexity ratios multiply.
    """
    base = result.baseline
    if result.higher_is_better:
        return base - metric
    if base > 0 and metric > 0 and math.isfinite(metric):
        return math.log(metric / base)
    return math.inf if not math.isfinite(metric) else metric - base


def _bands(result: SensitivityResult, layer: str) -> list[float | None]:
    """The noise band of each measured level of `layer` (None where not measured)."""
    bands = (result.noise or {}).get(layer) or []
    points = result.curves[layer]
    return list(bands) if len(bands) == len(points) else [None] * len(points)


def at_chance(result: SensitivityResult) -> bool:
    """True when the baseline is no better than the best constant prediction.

    Then every change is meaningless (an untrained model has nothing to lose): the paired
    noise band alone can call a tiny but consistent change real.
    """
    chance = result.extra.get("chance")
    if chance is None or result.noise is None:
        return False
    band = result.extra.get("chance_band") or 0.0
    if result.higher_is_better:
        return result.baseline <= chance + band
    return chance > 0 and math.log(result.baseline / chance) >= -band


def degradation_curve(
    result: SensitivityResult, layer: str, ignore_noise: bool = True
) -> list[tuple[float, float]]:
    """(sparsity, degradation) from (0, 0) through the measured levels, never decreasing.

    A measured improvement is treated as noise (clamped to 0), and a level that looks better
    than a lower one is held at the lower level's cost: pruning more is never assumed to help.
    With `ignore_noise`, a degradation inside that level's noise band counts as 0 too, and
    so does every change of a model whose baseline is at chance.
    """
    if ignore_noise and at_chance(result):
        return [(0.0, 0.0), *((s, 0.0) for s, _ in sorted(result.curves[layer]) if s > 0)]
    pairs = zip(result.curves[layer], _bands(result, layer), strict=True)
    measured = sorted(pairs, key=lambda pair: pair[0][0])
    points = [(0.0, 0.0)]
    worst = 0.0
    for (s, m), band in measured:
        if s <= 0:
            continue
        d = degradation(result, m)
        if ignore_noise and band is not None and d <= band:
            d = 0.0
        worst = max(worst, d if not math.isnan(d) else math.inf)
        points.append((s, worst))
    return points


def within_noise(result: SensitivityResult, layer: str) -> bool:
    """True when no measured level moved the metric by more than the evaluation noise."""
    if result.noise is None or layer not in result.noise:
        return False
    return sensitivity_score(result, layer) == 0.0


def noise_summary(result: SensitivityResult) -> str:
    """What counts as noise, in one phrase, for the panel's status line and the CLI header."""
    if result.noise is None:
        return "evaluation noise not measured (one batch): use 2 or more eval batches"
    batches = result.extra.get("batches", result.eval_batches)
    return f"noise = 2 standard errors of each change over {batches} paired batches"


def noise_warning(result: SensitivityResult) -> str | None:
    """One warning line when most layers' changes are within the evaluation noise, else None."""
    names = list(result.curves)
    if names and at_chance(result):
        chance = result.extra["chance"]
        best = "the most frequent class" if result.higher_is_better else "token frequencies"
        return (
            f"the baseline {result.metric} {result.baseline:.4g} is no better than predicting "
            f"{best} ({chance:.4g}): the model has learnt nothing that pruning could take away, "
            "so no layer can be ranked and the proposal prunes every layer evenly. Train the "
            "model first."
        )
    quiet = [n for n in names if within_noise(result, n)]
    if not names or len(quiet) <= MOST * len(names):
        return None
    worst = max(degradation_curve(result, n, ignore_noise=False)[-1][1] for n in names)
    if result.higher_is_better:
        largest = f"{-worst * 100:+.1f} points of {result.metric}"
    else:
        largest = f"{math.exp(min(worst, 50.0)) - 1:+.1%} {result.metric}"
    return (
        f"{len(quiet)} of {len(names)} layers change {result.metric} by less than the "
        "evaluation noise at every level: they cannot be ranked, so the proposal prunes them "
        f"evenly (largest change of any layer: {largest}). Evaluate on more validation data "
        "(more eval batches, a larger data.val_fraction or max_samples) to tell them apart."
    )


def interpolate(curve: list[tuple[float, float]], s: float) -> float:
    """Degradation at sparsity `s`: linear between points, extrapolated past the last one."""
    for (s0, d0), (s1, d1) in zip(curve, curve[1:], strict=False):
        if s <= s1:
            return d0 if s1 == s0 else d0 + (d1 - d0) * (s - s0) / (s1 - s0)
    s_last, d_last = curve[-1]
    if len(curve) < 2 or s_last <= 0:
        return 0.0
    # past the last measured level, assume it gets worse at least at the average rate so far
    # (a flat last segment must not make 95% look free)
    s_prev, d_prev = curve[-2]
    slope = max((d_last - d_prev) / max(s_last - s_prev, 1e-12), d_last / s_last, 0.0)
    return d_last + slope * (s - s_last)


def sensitivity_score(result: SensitivityResult, layer: str) -> float:
    """One number per layer for ranking: degradation at its highest measured level."""
    return degradation_curve(result, layer)[-1][1]


def overall_sparsity(result: SensitivityResult, amounts: dict[str, float]) -> float:
    """Size-weighted sparsity over the analysed layers if each layer got its amount."""
    total = sum(result.sizes[name] for name in result.curves)
    pruned = sum(amounts.get(name, 0.0) * result.sizes[name] for name in result.curves)
    return pruned / total if total else 0.0


def check_target(target: float, max_amount: float = MAX_AMOUNT) -> None:
    """ValueError unless 0 <= target <= max_amount (the per-layer cap bounds the mean too)."""
    if not 0.0 < max_amount <= 1.0:
        raise ValueError(f"max_amount must be in (0, 1], got {max_amount}")
    if not 0.0 <= target <= max_amount:
        raise ValueError(
            f"target overall sparsity must be in [0, {max_amount:g}] (no layer is pruned "
            f"beyond {max_amount:g}), got {target:g}"
        )


def propose_amounts(
    result: SensitivityResult, target: float, max_amount: float = MAX_AMOUNT
) -> dict[str, float]:
    """Per-layer amounts whose size-weighted mean is `target`, sparing the sensitive layers."""
    check_target(target, max_amount)
    layers = [name for name in result.curves if result.sizes.get(name, 0) > 0]
    if not layers:
        raise ValueError("the sensitivity result has no analysed layers to propose amounts for")
    sizes = {name: result.sizes[name] for name in layers}
    amounts = {name: 0.0 for name in layers}
    budget = target * sum(sizes.values())
    if budget <= 0:
        return amounts
    curves = {name: degradation_curve(result, name) for name in layers}
    scores = {name: curves[name][-1][1] for name in layers}

    def next_step(name: str) -> tuple[float, float, float, str]:
        s = amounts[name]
        new = min(s + STEP, max_amount)
        cost = (interpolate(curves[name], new) - interpolate(curves[name], s)) / (
            (new - s) * sizes[name]
        )
        # Equal costs (typically 0 where a curve is flat) go first to the layer that is least
        # sensitive overall, so a layer that is free now but collapses later is spared; among
        # equally sensitive layers to the least-pruned one, so equal layers stay even.
        return (cost, scores[name], s, name)

    heap = [next_step(name) for name in layers]
    heapq.heapify(heap)
    pruned = 0.0
    last = layers[0]
    while pruned < budget - 1e-9 and heap:
        name = heapq.heappop(heap)[-1]
        new = min(amounts[name] + STEP, max_amount)
        pruned += (new - amounts[name]) * sizes[name]
        amounts[name] = new
        last = name
        if new < max_amount - 1e-12:
            heapq.heappush(heap, next_step(name))
    # the last step may overshoot by up to one step of one layer: give that back exactly
    amounts[last] -= (pruned - budget) / sizes[last]
    return {name: round(min(max(a, 0.0), max_amount), 4) for name, a in amounts.items()}


# -- recipes ------------------------------------------------------------------------------
def unstructured_prune_class() -> type:
    """The config class of the registered `unstructured_prune` method."""
    from engine.registry import method_config_class

    return method_config_class("unstructured_prune")


def first_prune_step(recipe: Recipe) -> tuple[int, Any] | None:
    """(index, config) of the recipe's first unstructured pruning step, or None."""
    cls = unstructured_prune_class()
    for i, cfg in enumerate(recipe.methods):
        if isinstance(cfg, cls):
            return i, cfg
    return None


def apply_proposal(recipe: Recipe, proposal: dict[str, float], target: float) -> Recipe:
    """The recipe with `proposal` as its first unstructured pruning step's overrides.

    A recipe without such a step gets one in front (pruning comes before the other methods).
    The step's `amount` becomes `target` so any layer the overrides do not name gets it too.
    """
    cls = unstructured_prune_class()
    overrides = {name: float(a) for name, a in proposal.items()}
    found = first_prune_step(recipe)
    methods = list(recipe.methods)
    if found is None:
        methods.insert(0, cls(amount=target, overrides=overrides))
    else:
        i, cfg = found
        changes: dict[str, Any] = {"amount": target, "overrides": overrides}
        if getattr(cfg, "mode", "amount") != "amount":
            changes["mode"] = "amount"  # overrides are amounts; a threshold step ignores them
        methods[i] = dataclasses.replace(cfg, **changes)
    return recipe.replace(methods=tuple(methods))
