"""Sensitivity analysis: prune one layer at a time, measure the eval metric, propose amounts.

For every targeted layer and every level, the lowest-|w| fraction of that one layer's
weight is zeroed, the model is evaluated on (a capped number of) validation batches, and
the original weight is copied back bit for bit before the next measurement. The curves
feed `propose_amounts` (engine/sensitivity_propose.py), whose result becomes the
unstructured pruning step's per-layer `overrides`.

The baseline's evaluation noise is measured too (`noise`): a change of the metric smaller
than that cannot tell layers apart, and the proposal treats such layers as equally robust.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.context import JobCancelled
from engine.data import DataBundle
from engine.methods.prune.masks import DEFAULT_EXCLUDE, select_targets
from engine.models.types import LoadedModel
from engine.recipe import Recipe
from engine.sensitivity_noise import PairedMeter
from engine.sensitivity_propose import (
    MAX_AMOUNT,
    NOISE_Z,
    apply_proposal,
    check_target,
    degradation_curve,
    first_prune_step,
    noise_summary,
    noise_warning,
    overall_sparsity,
    propose_amounts,
    sensitivity_score,
    within_noise,
)
from engine.sensitivity_scan import scan_layers, val_batches

__all__ = [
    "DEFAULT_LEVELS",
    "MAX_AMOUNT",
    "NOISE_Z",
    "SensitivityResult",
    "analyze_sensitivity",
    "apply_proposal",
    "first_prune_step",
    "degradation_curve",
    "noise_summary",
    "noise_warning",
    "overall_sparsity",
    "propose_amounts",
    "run_sensitivity",
    "sensitivity_score",
    "within_noise",
]

DEFAULT_LEVELS = (0.25, 0.5, 0.7, 0.8, 0.9)
DEFAULT_EVAL_BATCHES = 8  # layers x levels evaluations: a full validation pass each is too slow
METRICS = {"classification": ("accuracy", True), "causal-lm": ("perplexity", False)}

Progress = Callable[[float, str], None]


@dataclass
class SensitivityResult:
    """Metric vs sparsity per layer (each layer pruned alone), JSON-able via to_dict."""

    metric: str  # accuracy | perplexity
    higher_is_better: bool
    baseline: float  # the metric with nothing pruned
    curves: dict[str, list[tuple[float, float]]]  # layer -> [(sparsity, metric)], by sparsity
    sizes: dict[str, int]  # layer -> weight numel
    levels: tuple[float, ...] = DEFAULT_LEVELS
    eval_batches: int | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. model description
    # layer -> per level (as in curves): half-width of the band of changes that are only
    # evaluation noise, in degradation units (accuracy; loss = log-perplexity); None when it
    # could not be measured (a single evaluation batch)
    noise: dict[str, list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers only, for JSON."""
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "baseline": self.baseline,
            "levels": list(self.levels),
            "eval_batches": self.eval_batches,
            "seconds": self.seconds,
            "noise": None if self.noise is None else {n: list(v) for n, v in self.noise.items()},
            "layers": {
                name: {"params": self.sizes[name], "points": [[s, m] for s, m in pts]}
                for name, pts in self.curves.items()
            },
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SensitivityResult:
        """Inverse of to_dict."""
        layers = data["layers"]
        return cls(
            metric=data["metric"],
            higher_is_better=bool(data["higher_is_better"]),
            baseline=float(data["baseline"]),
            curves={n: [(float(s), float(m)) for s, m in v["points"]] for n, v in layers.items()},
            sizes={n: int(v["params"]) for n, v in layers.items()},
            levels=tuple(float(x) for x in data.get("levels", DEFAULT_LEVELS)),
            eval_batches=data.get("eval_batches"),
            seconds=float(data.get("seconds", 0.0)),
            extra=dict(data.get("extra") or {}),
            noise=None
            if data.get("noise") is None
            else {n: [float(x) for x in v] for n, v in data["noise"].items()},
        )


def check_levels(levels: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    """Sorted, de-duplicated levels, each in (0, 1]; ValueError naming the bad one."""
    if not levels:
        raise ValueError("levels is empty; give sparsities to try, e.g. 0.3,0.5,0.7,0.9")
    for x in levels:
        if not 0.0 < float(x) <= 1.0:
            raise ValueError(f"every level must be a sparsity in (0, 1], got {x}")
    return tuple(sorted({float(x) for x in levels}))


@torch.no_grad()
def analyze_sensitivity(
    loaded: LoadedModel,
    data: DataBundle,
    layers: list[str] | None = None,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    eval_batches: int | None = None,
    batch_size: int = 16,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SensitivityResult:
    """Prune each layer alone at each level and record the eval metric (weights restored)."""
    if loaded.task not in METRICS:
        raise ValueError(
            f"sensitivity analysis needs a classification or causal-lm model, got {loaded.task}"
        )
    levels = check_levels(levels)
    module = loaded.module
    device = torch.device(device) if device is not None else next(module.parameters()).device
    module.to(device)
    mods = dict(module.named_modules())
    names = _layer_names(module, mods, layers)
    metric, higher = METRICS[loaded.task]
    batches = val_batches(data, batch_size, eval_batches, device)
    report = progress or (lambda fraction, message: None)

    meter = PairedMeter(module, loaded.task, batches, device)

    def measure() -> tuple[float, list[float]]:
        if cancelled is not None and cancelled():
            raise JobCancelled("sensitivity analysis cancelled")
        return meter.measure()

    t0 = time.perf_counter()
    report(0.0, "baseline")
    baseline, meter.baseline = measure()
    curves, bands, sizes = scan_layers(mods, names, levels, measure, meter.band, report)
    report(1.0, "done")
    return SensitivityResult(
        metric=metric,
        higher_is_better=higher,
        baseline=baseline,
        curves=curves,
        sizes=sizes,
        levels=levels,
        eval_batches=eval_batches,
        seconds=time.perf_counter() - t0,
        extra={
            "model": loaded.description,
            "batches": len(batches),
            **dict(zip(("chance", "chance_band"), meter.chance(), strict=True)),
        },
        noise=None if len(meter.baseline) < 2 else bands,  # type: ignore[arg-type]
    )


def _layer_names(module: nn.Module, mods: dict[str, nn.Module], layers: list[str] | None) -> list[str]:
    """The layers to analyse (`layers`, else every default pruning target), each with a weight."""
    names = layers if layers is not None else [n for n, _ in select_targets(module)]
    missing = [n for n in names if not isinstance(getattr(mods.get(n), "weight", None), torch.Tensor)]
    if missing:
        raise ValueError(f"no layer with a weight named {', '.join(missing[:5])} in the model")
    if not names:
        raise ValueError("no layer to analyse: the include/exclude patterns match none")
    return names


# -- loading ----------------------------------------------------------------------------
def _layer_scope(recipe: Recipe) -> dict[str, tuple[str, ...]]:
    """include/exclude (and types) of the step the proposal will land on.

    That is the first unstructured pruning step, else the first pruning step of any kind,
    else the defaults (the step `apply_proposal` would then create has the defaults too).
    """
    from engine.registry import entry_for_config

    found = first_prune_step(recipe)
    steps = [found[1]] if found else []
    # steps that pick layers of the module (their include/exclude is the scope to keep)
    steps += [c for c in recipe.methods
              if entry_for_config(c).stage == "module" and entry_for_config(c).effect != "none"]
    for cfg in steps:
        if hasattr(cfg, "include") and hasattr(cfg, "exclude"):
            scope = {"include": tuple(cfg.include), "exclude": tuple(cfg.exclude)}
            if hasattr(cfg, "types"):
                scope["types"] = tuple(cfg.types)
            return scope
    return {"include": ("*",), "exclude": DEFAULT_EXCLUDE}


def load_for_sensitivity(
    recipe: Recipe, workspace: str | Path | None = None
) -> tuple[LoadedModel, DataBundle]:
    """The recipe's model and validation data, loaded the way a job loads them."""
    from engine.context import JobContext, JobControl
    from engine.data import load_data
    from engine.models.loaders import load_model
    from engine.models.structure import check_finite_weights
    from engine.stages import Pipeline
    from engine.store import Workspace, default_workspace

    spec = recipe.model
    if spec.source == "variant":
        # the pipeline's own resolution, so `variant` means exactly what it means in a run
        ws = Workspace(workspace or default_workspace())
        pipeline = Pipeline(recipe, ws, JobContext(lambda event: None, JobControl()))
        spec = pipeline._resolve_model_spec(spec)
    from engine.data.head_size import size_head_from_data

    loaded = load_model(size_head_from_data(spec, recipe.data))  # a new head: sized by the data
    check_finite_weights(loaded.module, spec.path)  # NaN weights would break every measurement
    if loaded.task not in METRICS:
        raise ValueError(
            f"sensitivity analysis needs a classification or causal-lm model; {spec.path} is "
            f"a {loaded.task} model"
        )
    data = load_data(recipe.data, loaded)
    if data is None:
        raise ValueError(
            "sensitivity analysis measures the eval metric, so it needs data: set data.source "
            "(builtin, text or labelled)"
        )
    return loaded, data


def run_sensitivity(
    recipe: Recipe,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    target: float = 0.5,
    eval_batches: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    workspace: str | Path | None = None,
) -> tuple[SensitivityResult, dict[str, float]]:
    """Load the recipe's model and data, analyse its pruning step's layers, propose amounts."""
    from engine.train.loop import pick_device

    levels = check_levels(levels)
    check_target(target)  # fail before minutes of analysis, not after
    loaded, data = load_for_sensitivity(recipe, workspace)
    layers = [name for name, _ in select_targets(loaded.module, **_layer_scope(recipe))]
    if not layers:
        scope = _layer_scope(recipe)
        raise ValueError(
            f"the pruning step's include={list(scope['include'])} "
            f"exclude={list(scope['exclude'])} match no layer of {recipe.model.path}"
        )
    batches = eval_batches or recipe.train.eval_batches or DEFAULT_EVAL_BATCHES
    result = analyze_sensitivity(
        loaded,
        data,
        layers,
        levels,
        eval_batches=batches,
        batch_size=recipe.train.batch_size,
        device=pick_device(recipe.train.device),
        progress=progress,
        cancelled=cancelled,
    )
    return result, propose_amounts(result, target)
