"""The baseline: the unmodified model, evaluated and exported once, as every variant's parent.

`p` is the running `Pipeline` (its recipe, workspace, context and export step). One
process at a time looks up or builds a given baseline (a lock per baseline key), so
two first runs into one workspace share one baseline instead of building two.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.baseline_keys import BaselineKeys, baseline_keys
from engine.baseline_reuse import reuse_onnx
from engine.context import JobCancelled, JobContext
from engine.models.summary import summarize
from engine.recipe import ModelSpec, Recipe
from engine.report import build_card
from engine.train.loop import evaluate, make_loader

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.stages import Pipeline


def baseline_key(spec: ModelSpec, recipe: Recipe) -> str:
    """What makes two baselines the same: the model and its files, the data, evaluation and export."""
    return baseline_keys(spec, recipe).full


def ensure_baseline(p: Pipeline, loaded: Any, data: Any, spec: ModelSpec, device: torch.device) -> str:
    """The unmodified model as a finished variant: reused if the workspace has it.

    One process at a time looks up or builds a given baseline, so two first runs into
    one workspace share one baseline: the second waits, then reuses it. A new baseline
    still reuses an earlier one's metrics (same model, data and evaluation) or ONNX
    files (same model and export settings) rather than computing them again.
    """
    keys = baseline_keys(spec, p.recipe)

    def waiting(holder: str) -> None:
        p.ctx.log(f"waiting for another run that is building the same baseline ({holder})")

    with p.ws.baseline_lock(keys.full, waiting, p.ctx.checkpoint):
        for v in reversed(p.ws.variants("finished")):
            if v.card.get("baseline_key") == keys.full and not v.missing:
                p.ctx.log(f"baseline: reusing {v.id} ({v.name})")
                return v.id
        return _build_baseline(p, loaded, data, keys, device)


def _newest(p: Pipeline, field: str, key: str, needs: str) -> Any:
    """The newest intact finished baseline whose card has `field` == key and a `needs` entry."""
    for v in reversed(p.ws.variants("finished")):
        if v.card.get(field) == key and v.card.get(needs) and not v.missing:
            return v
    return None


def _evaluate(p: Pipeline, loaded: Any, data: Any, keys: BaselineKeys, module: Any,
              device: torch.device, ctx: JobContext) -> tuple[dict[str, float], str | None]:
    """The baseline's metrics, from an earlier baseline on the same data when there is one."""
    if data is None:
        return {}, None
    earlier = _newest(p, "baseline_eval_key", keys.evaluation, "metrics")
    if earlier is not None:
        p.ctx.log(f"baseline: metrics reused from {earlier.id} (same model, data and evaluation)")
        return {k: float(v) for k, v in earlier.card["metrics"].items()}, earlier.id
    r = p.recipe
    loader = make_loader(data.val, r.train.batch_size, False, r.data.seed)
    metrics = evaluate(module, loaded.task, loader, device, progress=_eval_progress(ctx.sub(0.05, 0.4)))
    p.ctx.log("baseline: evaluated on the validation data")
    return metrics, None


def _export(p: Pipeline, loaded: Any, data: Any, keys: BaselineKeys, folder: Path,
            ctx: JobContext) -> tuple[dict[str, Any] | None, str | None]:
    """The baseline's ONNX report, linking an earlier baseline's files when the model is the same."""
    if not p.recipe.export.enabled:
        return None, None
    earlier = _newest(p, "baseline_export_key", keys.export, "onnx")
    if earlier is not None:
        try:
            onnx = reuse_onnx(p.ws.run_dir(earlier.id), earlier.card["onnx"], folder)
        except OSError as exc:  # e.g. its files went away meanwhile: export afresh
            p.ctx.log(f"baseline: cannot reuse the ONNX files of {earlier.id} ({exc}); exporting")
        else:
            p.ctx.log(f"baseline: ONNX export reused from {earlier.id} (same model and export settings)")
            return onnx, earlier.id
    return p.export(loaded, data, folder / "model.onnx", ctx.sub(0.4, 1.0)).to_dict(), None


def _build_baseline(p: Pipeline, loaded: Any, data: Any, keys: BaselineKeys, device: torch.device) -> str:
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
        metrics, metrics_from = _evaluate(p, loaded, data, keys, module, device, ctx)
        ctx.progress(0.4, "baseline evaluated")
        module.cpu().eval()
        onnx, onnx_from = _export(p, loaded, data, keys, folder, ctx)
        card = build_card(
            run_id=run.id, recipe=base_recipe, parent=None, loaded=loaded, data=data,
            before=summary, after=summary, targets=[], module=module, metrics=metrics,
            train_stats=None, onnx=onnx, folder=folder, started=run.created,
        )  # fmt: skip
        card.update(baseline_key=keys.full, baseline_eval_key=keys.evaluation,
                    baseline_export_key=keys.export)  # fmt: skip
        card["baseline_reused"] = {"metrics": metrics_from, "onnx": onnx_from}
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
