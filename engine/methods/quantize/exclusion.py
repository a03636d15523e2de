"""Accuracy-aware exclusion: keep the worst nodes in fp32 until the artifact meets a bound.

The caller owns how an artifact is made and measured: `make(excluded)` writes a quantized
file that leaves `excluded` (fp32 node names, as node_errors reports them) in fp32, and
`evaluate(path)` measures that file in onnxruntime over the validation split. The search
tries the plain artifact first, then keeps the 1, 2, 4, 8 ... worst of `ranked_nodes` in
fp32 (the last step keeps all of them), and stops at the first artifact within the bound.
A step's latency is whatever `evaluate` puts in its metrics (e.g. "latency_ms_p50").

Bounds: classification, accuracy may fall by at most `max_drop` (absolute: 0.005 is half
a point); causal-lm, perplexity may be at most fp32 × (1 + max_drop) (0.05 is +5%).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOUNDED_TASKS = ("classification", "causal-lm")
_TOL = 1e-9  # an exact tie with the bound counts as meeting it


@dataclass
class ExclusionSearch:
    steps: list[dict[str, Any]] = field(default_factory=list)  # excluded, metrics, size_bytes, met
    met: bool = False
    excluded: list[str] = field(default_factory=list)  # the list that met the bound, or []
    message: str = ""


def metric_key(task: str) -> str:
    if task not in BOUNDED_TASKS:
        raise ValueError(
            f"task: the exclusion search needs a metric bound, which {task!r} has none of; "
            f"use one of {', '.join(BOUNDED_TASKS)}"
        )
    return "accuracy" if task == "classification" else "perplexity"


def limit(task: str, fp32_metrics: dict[str, float], max_drop: float) -> float:
    """The worst acceptable value of the task's metric."""
    key = metric_key(task)
    if key not in fp32_metrics:
        raise ValueError(f"fp32_metrics: no {key!r} to bound (got {sorted(fp32_metrics)})")
    if max_drop < 0:
        raise ValueError(f"max_drop: must be 0 or more, got {max_drop}")
    base = fp32_metrics[key]
    return base - max_drop if key == "accuracy" else base * (1.0 + max_drop)


def within(task: str, metrics: dict[str, float], bound: float) -> bool:
    value = metrics.get(metric_key(task))
    if value is None or value != value:  # missing or NaN never meets a bound
        return False
    return value >= bound - _TOL if task == "classification" else value <= bound + _TOL


def sizes(n: int) -> list[int]:
    """How many nodes each step keeps in fp32: 0, 1, 2, 4, ... and finally all n."""
    out, k = [0], 1
    while k < n:
        out.append(k)
        k *= 2
    if n > 0:
        out.append(n)
    return out


def file_bytes(path: Path) -> int:
    """The artifact's size on disk, its external-data file included."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _describe(task: str, metrics: dict[str, float]) -> str:
    key = metric_key(task)
    value = metrics.get(key)
    if value is None:
        return f"no {key}"
    return f"accuracy {value:.4f}" if key == "accuracy" else f"perplexity {value:.4g}"


def _better(task: str, a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    if b is None:
        return True
    key = metric_key(task)
    va, vb = a["metrics"].get(key), b["metrics"].get(key)
    if va is None or va != va:
        return False
    if vb is None or vb != vb:
        return True
    return va > vb if key == "accuracy" else va < vb


def search_exclusions(
    make: Callable[[list[str]], Path],
    evaluate: Callable[[Path], dict[str, float]],
    ranked_nodes: list[str],
    fp32_metrics: dict[str, float],
    task: str,
    max_drop: float,
    log: Callable[[str], None],
    max_rounds: int = 8,
) -> ExclusionSearch:
    """Greedy: grow the fp32 set along `ranked_nodes` (worst first) until the bound is met."""
    bound = limit(task, fp32_metrics, max_drop)
    key = metric_key(task)
    result, best = ExclusionSearch(), None
    goal = f"{key} {'≥' if key == 'accuracy' else '≤'} {bound:.4g}"
    for count in sizes(len(ranked_nodes))[: max(1, max_rounds)]:
        excluded = list(ranked_nodes[:count])
        path = make(excluded)
        metrics = dict(evaluate(path))
        step = {
            "excluded": excluded,
            "metrics": metrics,
            "size_bytes": file_bytes(path),
            "met": within(task, metrics, bound),
        }
        result.steps.append(step)
        log(
            f"exclusion search: {count} node(s) in fp32 -> {_describe(task, metrics)} "
            f"({'meets' if step['met'] else 'misses'} {goal}), {step['size_bytes']:,} bytes"
        )
        if step["met"]:
            result.met, result.excluded = True, excluded
            result.message = (
                f"{goal} met with {count} node(s) kept in fp32 "
                f"({_describe(task, metrics)}, fp32 {_describe(task, fp32_metrics)})"
            )
            return result
        best = step if _better(task, step, best) else best
    result.message = _cannot(task, goal, result, best, len(ranked_nodes))
    log(f"exclusion search: {result.message}")
    return result


def _cannot(task: str, goal: str, result: ExclusionSearch, best: Any, n: int) -> str:
    tried = len(result.steps[-1]["excluded"]) if result.steps else 0
    why = (
        f"even with all {n} ranked node(s) in fp32"
        if tried == n
        else f"stopped after {len(result.steps)} round(s), at most {tried} of {n} node(s) in fp32"
    )
    best_text = (
        f"best: {_describe(task, best['metrics'])} with {len(best['excluded'])} node(s) in fp32"
        if best
        else "no step ran"
    )
    return (
        f"cannot meet {goal}: {why}; {best_text}. Loosen the bound, rank more nodes, "
        f"or try per-channel weights / another calibration method"
    )
