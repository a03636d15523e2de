"""The stages of one job, in order, producing a variant card.

Inputs are loaded and checked before anything is registered in the workspace, so
a bad model file or data file fails with one line and leaves the workspace as it
was. The baseline (the unmodified model, evaluated and exported once) becomes the
variant's parent so the compare page can put the two side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.baseline import ensure_baseline, on_device, run_warnings
from engine.config_fields import ConfigError, config_to_dict
from engine.context import JobContext
from engine.data import load_data
from engine.data.head_size import size_head_from_data
from engine.estimate import fmt_count, step_counts, step_title
from engine.events import Artifact, LayerStats, StageStarted
from engine.export_variant import export_loaded
from engine.layer_report import REMOVED_KIND, structured_removed
from engine.methods.base import MethodContext, MethodResult
from engine.methods.prune.masks import layer_sparsity, make_permanent
from engine.models.checkpoint import save_model
from engine.models.loaders import load_model
from engine.models.structure import check_finite_weights
from engine.models.summary import summarize
from engine.pipeline_runs import PipelineRuns
from engine.recipe import ModelSpec, Recipe
from engine.registry import check_methods, entry_for_config
from engine.report import build_card, method_label
from engine.script_refusal import torchscript_problems
from engine.shrink import shrink_report
from engine.store import TRAIN_STATE as STATE_FILE
from engine.store import Workspace, atomic_write_json
from engine.train import (
    evaluate,
    fine_tune,
    make_loader,
    pick_device,
    total_steps,
)

# Progress ranges of the stages inside the whole job.
STAGES = {
    "load": (0.0, 0.08),
    "baseline": (0.08, 0.2),
    "methods": (0.2, 0.25),
    "train": (0.25, 0.85),
    "save": (0.85, 0.88),
    "export": (0.88, 1.0),
}


class Pipeline(PipelineRuns):
    """One job's stages (load, baseline, methods, train, save, export) producing its card."""

    def __init__(
        self,
        recipe: Recipe,
        ws: Workspace,
        ctx: JobContext,
        on_run_created: Callable[[str, Path], None] = lambda run_id, folder: None,
        resume_run: str | None = None,
    ):
        self.resume_run = resume_run  # an unfinished run to continue from its train_state.pt
        self.recipe = recipe
        self.ws = ws
        self.ctx = ctx
        self.on_run_created = on_run_created
        self.run_id: str | None = None
        self.parent_id: str | None = recipe.parent
        self.baseline_id: str | None = None  # a baseline this job is building, until it is done
        self.stage = "load"  # the stage running now, for failure messages
        self.step_reports: list[dict[str, Any]] = []  # per method step, for card["steps"]

    def enter_stage(self, name: str, message: str = "") -> JobContext:
        """Start stage `name` (a cancel or pause takes effect here); its progress context."""
        self.ctx.checkpoint()  # a cancel between stages (e.g. during export) takes effect here
        self.stage = name
        self.ctx.emit(StageStarted(name, message))
        sub = self.ctx.sub(*STAGES[name])
        sub.progress(0.0, message or name)
        return sub

    # -- the whole job -------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every stage in order; returns the finished variant's card."""
        r = self.recipe
        device = pick_device(r.train.device)
        torch.manual_seed(r.train.seed)
        spec, loaded, data = self._load()

        self.stage = "setup"  # registering the run (and its baseline)
        if self.resume_run:
            run = self._reopen(self.resume_run)
        else:
            if self.parent_id is None and r.methods:
                self.parent_id = ensure_baseline(self, loaded, data, spec, device)
            # the run's record keeps every setting it used, defaults included
            run = self.ws.new_run(r.name, r.to_yaml(full=True), self.parent_id)
        self.run_id = run.id
        folder = self.ws.run_dir(run.id)
        self.on_run_created(run.id, folder)
        self.ctx.emit(Artifact("recipe", str(folder / "recipe.yaml")))
        started = time.time()
        module = loaded.module.to(device)
        before = summarize(module, on_device(loaded.example_inputs(), device))

        targets, hooks = self._apply_methods(module, loaded, data, device)
        train_stats, metrics = self._train(module, loaded, data, targets, hooks, folder, device)
        after = self._save(loaded, module, folder)
        onnx = None
        if r.export.enabled:
            ctx = self.enter_stage("export", "exporting to ONNX")
            onnx = self.export(loaded, data, folder / "model.onnx", ctx).to_dict()
            self.ctx.emit(Artifact("onnx", onnx["path"]))
        card = build_card(
            run_id=run.id, recipe=r, parent=self.parent_id, loaded=loaded, data=data,
            before=before, after=after, targets=targets, module=loaded.module, metrics=metrics,
            train_stats=train_stats, onnx=onnx, folder=folder, started=started,
        )  # fmt: skip
        card["steps"] = self.step_reports  # what each step reached when it was applied
        return self._finish(card, train_stats, metrics, data, folder)

    # -- stages --------------------------------------------------------------------
    def _load(self) -> tuple[ModelSpec, Any, Any]:
        """Model and data, with every check that needs them, before anything is registered."""
        r = self.recipe
        ctx = self.enter_stage("load", "loading model and data")
        spec = size_head_from_data(self._resolve_model_spec(r.model), r.data)  # a new head
        loaded = load_model(spec)
        ctx.log(f"model: {loaded.description}")
        problems = torchscript_problems(r.methods, r.train.epochs, loaded.module)
        if problems:  # first: no data or fix elsewhere would let a TorchScript model train
            raise ConfigError(problems)
        data = None
        if r.data.source != "none" and loaded.task in ("causal-lm", "classification"):
            data = load_data(r.data, loaded)
            ctx.log(f"data: {data.description}")
            for w in data.warnings:
                ctx.log(w, "warning")
        if r.train.epochs > 0 and data is None:
            raise ValueError(
                "train.epochs > 0 needs data: set data.source (text/labelled/builtin) "
                "or train.epochs: 0 for a prune-and-export-only recipe"
            )
        check_finite_weights(loaded.module, spec.path)
        problems = check_methods(r.methods, loaded.module)
        if problems:  # before anything is registered: the workspace stays as it was
            raise ConfigError(problems)
        ctx.progress(1.0)
        return spec, loaded, data

    def _apply_methods(
        self, module: nn.Module, loaded: Any, data: Any, device: torch.device
    ) -> tuple[list[str], list[Any]]:
        """Run each method step; (layers holding masks, training hooks of their schedules)."""
        r = self.recipe
        ctx = self.enter_stage("methods", "applying optimization methods")
        results: list[MethodResult] = []
        # resuming: the methods' step-0 view is superseded by the loaded training state, whose
        # schedules report the state they resume from instead; their hooks keep this emitter,
        # so it is unmuted again before training
        muted = [self.resume_run is not None]

        def method_events(event: Any) -> None:
            if not muted[0]:
                self.ctx.emit(event)

        steps = total_steps(len(data.train), r.train) if data is not None and r.train.epochs else 0
        for cfg in r.methods:
            entry = entry_for_config(cfg)
            ctx.log(f"Step {len(results) + 1} · {entry.label}: {method_label(cfg)}")
            mctx = MethodContext(
                module=module, task=loaded.task, log=ctx.log, data=data, emit=method_events,
                total_steps=steps, batch_size=r.train.batch_size, device=device, seed=r.train.seed,
            )  # fmt: skip
            results.append(entry.handler(cfg, mctx))
            self._report_step(cfg, results, module, ctx.log)
        # zeros are counted only where masks put them; structured steps shrank tensors instead
        # module order (not sorted): the per-layer bars read top to bottom like the model
        targets = list(dict.fromkeys(t for res in results if not res.structured for t in res.targets))
        removed = structured_removed(results, module)
        if removed:  # layers shrank: no zeros to count, so say how much of each went
            method_events(LayerStats(0, removed, kind=REMOVED_KIND))
        muted[0] = False
        ctx.progress(1.0)
        return targets, [h for res in results for h in res.hooks]

    def _report_step(
        self, cfg: Any, results: list[MethodResult], module: nn.Module, log: Callable[[str], None]
    ) -> None:
        """Log what the step just applied left and keep it for card["steps"].

        Sparsity is over every layer a masking step targeted so far (masks of successive
        steps combine); a scheduled step reports its start and the amount training reaches.
        """
        res = results[-1]
        masked = list(dict.fromkeys(t for r in results if not r.structured for t in r.targets))
        rep = {"step": len(results), "title": step_title(cfg), "method": method_label(cfg),
               "layers": len(res.targets), **step_counts(module, masked)}
        rep.update(res.summary.get("card", {}))  # the method's own record (criterion used, notes)
        line = (f"Step {rep['step']} · {rep['title']}: sparsity {rep['sparsity']:.1%} of the "
                f"masked layers; {fmt_count(rep['nonzero'])} of {fmt_count(rep['params'])} "
                "parameters non-zero")
        if res.hooks and getattr(cfg, "amount", None) is not None:
            rep["final_target"] = cfg.amount
            line += f" (its schedule reaches {cfg.amount:.1%} of its layers during training)"
        self.step_reports.append(rep)
        log(line)

    def _train(
        self, module: nn.Module, loaded: Any, data: Any, targets: list[str], hooks: list[Any],
        folder: Path, device: torch.device,
    ) -> tuple[Any, dict[str, float]]:
        """Fine-tune (when the recipe trains), make masks permanent, evaluate."""
        r = self.recipe
        ctx = self.enter_stage("train", "fine-tuning")
        train_stats = None
        if data is not None and r.train.epochs > 0:
            train_stats = fine_tune(
                module, loaded.task, data.train, data.val, r.train, ctx, device,
                layer_stats=(lambda: layer_sparsity(module, targets)) if targets else None,
                hooks=hooks, state_path=folder / STATE_FILE, resume=self.resume_run is not None,
            )  # fmt: skip
        make_permanent(module)
        metrics: dict[str, float] = {}
        if data is not None:
            loader = make_loader(data.val, r.train.batch_size, False, r.data.seed)
            metrics = evaluate(module, loaded.task, loader, device)
        if train_stats and train_stats.final_train_loss is not None:
            metrics["train_loss"] = train_stats.final_train_loss
        ctx.log("evaluation: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        return train_stats, metrics

    def _save(self, loaded: Any, module: nn.Module, folder: Path) -> Any:
        """Checkpoint and anatomy of the trained module; its summary."""
        self.enter_stage("save", "saving checkpoint")
        loaded.module = module.cpu().eval()
        ckpt = save_model(loaded, folder / "checkpoint")
        self.ctx.emit(Artifact("checkpoint", str(ckpt)))
        after = summarize(loaded.module, loaded.example_inputs())
        atomic_write_json(folder / "anatomy.json", after.to_dict())
        return after

    def _finish(
        self, card: dict[str, Any], train_stats: Any, metrics: dict[str, float], data: Any,
        folder: Path,
    ) -> dict[str, Any]:
        """Shrink verdict and warnings on the card, then record the run as finished."""
        card["checks"] = config_to_dict(self.recipe.checks)  # the collapse thresholds judged by
        if self.recipe.methods:  # "did it really shrink and speed up?", against the parent's card
            card["shrink"] = shrink_report(card, self._parent_card())
        self.ctx.checkpoint()  # cancelled during the last stage: not recorded as finished
        warnings = run_warnings(train_stats, metrics, data)
        if warnings:  # finished, but never a plain "finished": the card and listings say why
            card["warnings"] = warnings
        self.ws.finish(self.run_id, card)
        # the optimizer state makes it 3x the model; a finished run never resumes
        (folder / STATE_FILE).unlink(missing_ok=True)
        self.ctx.emit(Artifact("report", str(folder / "report.json")))
        self.ctx.progress(1.0, "done")
        return card

    def export(self, loaded: Any, data: Any, path: Path, ctx: JobContext) -> Any:
        """Export the loaded model to `path` and check it (ONNX checker, parity, latency)."""
        ctx.progress(0.1, "exporting to ONNX")
        report = export_loaded(loaded, data, path, self.recipe.export, log=ctx.log,
                               isolate=ctx.isolate_export, checkpoint=ctx.checkpoint, progress=ctx.progress)
        ctx.progress(1.0, "ONNX checked")
        return report
