"""The baseline: the unmodified model, evaluated and exported once, as every variant's parent.

`p` is the running `Pipeline` (its recipe, workspace, context and export step). One
process at a time looks up or builds a given baseline (a lock per baseline key), so
two first runs into one workspace share one baseline instead of building two.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from engine.context import JobCancelled, JobContext
from engine.models.summary import summarize
from engine.recipe import ModelSpec, Recipe
from engine.report import build_card
from engine.train import evaluate, make_loader

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.variant_pipeline import Pipeline


def baseline_key(spec: ModelSpec, recipe: Recipe) -> str:
    """What makes two baselines the same: the model (trust aside), the data and the export."""
    return json.dumps(
        {
            "model": dataclasses.asdict(dataclasses.replace(spec, trust=False)),
            "data": dataclasses.asdict(recipe.data),
            "export": dataclasses.asdict(recipe.export),
        },
        sort_keys=True,
    )


def ensure_baseline(p: Pipeline, loaded: Any, data: Any, spec: ModelSpec, device: torch.device) -> str:
    """The unmodified model as a finished variant: reused if the workspace has it.

    One process at a time looks up or builds a given baseline, so two first runs into
    one workspace share one baseline: the second waits, then reuses it.
    """
    key = baseline_key(spec, p.recipe)

    def waiting(holder: str) -> None:
        p.ctx.log(f"waiting for another run that is building the same baseline ({holder})")

    with p.ws.baseline_lock(key, waiting, p.ctx.checkpoint):
        for v in reversed(p.ws.variants("finished")):
            if v.card.get("baseline_key") == key and not v.missing:
                p.ctx.log(f"baseline: reusing {v.id} ({v.name})")
                return v.id
        return _build_baseline(p, loaded, data, key, device)


def _build_baseline(p: Pipeline, loaded: Any, data: Any, key: str, device: torch.device) -> str:
    """Evaluate and export the unmodified model and record it as a finished variant."""
    r = p.recipe
    ctx = p.enter_stage("baseline", "evaluating the unmodified model")
    base_recipe = r.replace(
        name=f"{r.model.path.rstrip('/').split('/')[-1]} (base)", methods=()
    )
    base_recipe = base_recipe.replace(train=dataclasses.replace(r.train, epochs=0))
    run = p.ws.new_run(base_recipe.name, base_recipe.to_yaml(), None)
    p.baseline_id = run.id  # a failure from here on is recorded on this run
    folder = p.ws.run_dir(run.id)
    try:
        module = loaded.module.to(device)
        summary = summarize(module, on_device(loaded.example_inputs(), device))
        ctx.progress(0.05, "model measured")
        metrics = {}
        if data is not None:
            loader = make_loader(data.val, r.train.batch_size, False, r.data.seed)
            metrics = evaluate(module, loaded.task, loader, device, progress=_eval_progress(ctx.sub(0.05, 0.4)))
        ctx.progress(0.4, "baseline evaluated")
        module.cpu().eval()
        onnx = None
        if r.export.enabled:
            onnx = p.export(
                loaded, data, folder / "model.onnx", ctx.sub(0.4, 1.0)
            ).to_dict()
        card = build_card(
            run_id=run.id,
            recipe=base_recipe,
            parent=None,
            loaded=loaded,
            data=data,
            before=summary,
            after=summary,
            targets=[],
            module=module,
            metrics=metrics,
            train_stats=None,
            onnx=onnx,
            folder=folder,
            started=run.created,
        )
        card["baseline_key"] = key
        warnings = run_warnings(None, metrics, data)
        if warnings:
            card["warnings"] = warnings
        p.ws.finish(run.id, card)
    except JobCancelled:
        p.ws.mark(run.id, "cancelled", "cancelled by the user")
        raise
    p.ctx.log(f"baseline {run.id}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    p.baseline_id = None
    return run.id


def _eval_progress(ctx: JobContext) -> Callable[[float, str], None]:
    """Progress of the baseline evaluation, at most ~10 events a second; a cancel stops it."""
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        ctx.checkpoint()
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            ctx.progress(fraction, message)

    return report


def run_warnings(train_stats: Any, metrics: dict[str, float], data: Any) -> list[str]:
    """What a reader of a finished run must know: guessed encodings, divergence, NaN metrics."""
    out = list(getattr(data, "warnings", None) or [])
    out += list(getattr(train_stats, "warnings", None) or [])
    for name, value in metrics.items():
        if not math.isfinite(value):
            out.append(f"validation {name} is {value}: the model's outputs are not finite numbers")
    return out


def on_device(inputs: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in inputs)
