"""Pareto fronts over variants: which points no other point beats on every objective.

A point is on the front when no other point is at least as good on every objective and
strictly better on one. Equal points (two files measured the same) do not dominate each
other, so duplicates on the front are all kept; a point tied on one objective and worse on
the other is dominated. Points with a missing or non-finite value are never on the front.
Pure functions on numbers: the Compare page draws the result, the CLI can print it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.metric_text import LOWER_IS_BETTER

# words that mark a metric where a smaller number is better, beyond metric_text's names
LOWER_WORDS = ("loss", "perplexity", "error", "latency", "size", "_ms")


def lower_is_better(metric: str) -> bool:
    """True for perplexity / loss-like metrics, False for accuracy / f1-like ones."""
    name = metric.lower()
    return name in LOWER_IS_BETTER or any(word in name for word in LOWER_WORDS)


def _finite(point: Sequence[float], objectives: Sequence[int]) -> bool:
    return all(isinstance(point[i], (int, float)) and math.isfinite(point[i]) for i in objectives)


def _dominates(a: Sequence[float], b: Sequence[float], minimize: Sequence[int],
               maximize: Sequence[int]) -> bool:
    """a is no worse than b on every objective and better on at least one."""
    if any(a[i] > b[i] for i in minimize) or any(a[i] < b[i] for i in maximize):
        return False
    return any(a[i] < b[i] for i in minimize) or any(a[i] > b[i] for i in maximize)


def pareto_front(points: Sequence[Sequence[float]], minimize: Sequence[int] = (0,),
                 maximize: Sequence[int] = (1,)) -> list[int]:
    """Indices (ascending) of the points no other point dominates.

    `minimize` / `maximize` name the positions in each point that are objectives, e.g. a
    point (latency_ms, accuracy) with minimize=(0,), maximize=(1,). Quadratic in the number
    of points, which is fine for the dozens of variants a workspace holds.
    """
    objectives = (*minimize, *maximize)
    if not objectives:
        raise ValueError("pareto_front needs at least one objective in minimize or maximize")
    if set(minimize) & set(maximize):
        raise ValueError("an objective cannot be both minimized and maximized")
    usable = [i for i, p in enumerate(points) if _finite(p, objectives)]
    return [i for i in usable
            if not any(_dominates(points[j], points[i], minimize, maximize) for j in usable if j != i)]


def metric_front(xs: Sequence[float], ys: Sequence[float], metric: str) -> list[int]:
    """The front of (cost, metric) points: the cost (latency, size, params…) is minimized;
    the metric is minimized or maximized according to its name."""
    if len(xs) != len(ys):
        raise ValueError(f"metric_front: {len(xs)} x values but {len(ys)} y values")
    points = list(zip(xs, ys, strict=True))
    if lower_is_better(metric):
        return pareto_front(points, minimize=(0, 1), maximize=())
    return pareto_front(points, minimize=(0,), maximize=(1,))


def staircase(front: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The step line through front points (cost, metric): sorted by cost, each step runs
    along the cheaper point's metric to the next cost, then to the next point's metric.

    The line's vertices alternate front point, corner, front point…; the region below/right
    of it is what the front dominates.
    """
    ordered = sorted(set(front))
    xs: list[float] = []
    ys: list[float] = []
    for k, (x, y) in enumerate(ordered):
        if k:
            xs.append(x)
            ys.append(ordered[k - 1][1])
        xs.append(x)
        ys.append(y)
    return xs, ys
