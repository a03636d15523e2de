"""The job as a list of stages, in order, producing a variant card.

load -> setup (registers the run and its baseline) -> methods -> train -> save -> export
-> deploy -> check. Each stage is one function taking the Pipeline and the JobState it
fills in; each has its own progress range and announces itself with a StageStarted event.
Inputs are loaded and checked before anything is registered in the workspace, so a bad
model file or data file fails with one line and leaves the workspace as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.baseline import ensure_baseline, on_device
from engine.context import JobContext
from engine.events import Artifact, StageStarted
from engine.models.summary import summarize
from engine.pipeline_runs import PipelineRuns
from engine.recipe import Recipe
from engine.stage_deploy import check_stage, deploy_stage, export_stage
from engine.stage_load import load_stage
from engine.stage_model import methods_stage, save_stage, train_stage
from engine.stage_rank import WORKER_STAGES
from engine.store import Workspace
from engine.train.loop import pick_device
from engine.train.strategy import is_main_process

# Progress ranges of the stages inside the whole job.
STAGES = {
    "load": (0.0, 0.08),
    "baseline": (0.08, 0.2),
    "methods": (0.2, 0.25),
    "train": (0.25, 0.8),
    "save": (0.8, 0.83),
    "export": (0.83, 0.9),
    "deploy": (0.9, 0.98),
    "check": (0.98, 1.0),
}


@dataclass
class JobState:
    """What the stages hand on to each other (each fills in its part)."""

    device: torch.device
    spec: Any = None  # the resolved ModelSpec
    loaded: Any = None  # engine.models.types.LoadedModel
    data: Any = None  # engine.data.DataBundle or None
    folder: Path | None = None  # the run folder
    started: float = 0.0
    before: Any = None  # anatomy summary before the methods
    after: Any = None  # ... and of the saved model
    targets: list[str] = field(default_factory=list)  # layers holding masks
    hooks: list[Any] = field(default_factory=list)  # training hooks of scheduled steps
    objectives: list[Any] = field(default_factory=list)  # steps' ObjectiveFactory, in order
    train_stats: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    onnx: dict[str, Any] | None = None  # the fp32 export's report
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # one per deployable file
    card: dict[str, Any] = field(default_factory=dict)
    # models the steps load (a distillation teacher), by spec: loaded once, in the load stage
    # where they are checked against the recipe's model, then handed to the step
    step_models: dict[Any, Any] = field(default_factory=dict)


def setup_stage(p: Pipeline, s: JobState) -> None:
    """Register the run (building or reusing its baseline first), measure the model as loaded."""
    r = p.recipe
    p.stage = "setup"  # registering the run (and its baseline)
    if p.resume_run:
        run = p._reopen(p.resume_run)
    else:
        if p.parent_id is None and r.methods:
            p.parent_id = ensure_baseline(p, s.loaded, s.data, s.spec, s.device)
        # the run's record keeps every setting it used, defaults included
        run = p.ws.new_run(r.name, r.to_yaml(full=True), p.parent_id)
    p.run_id = run.id
    s.folder = p.ws.run_dir(run.id)
    p.on_run_created(run.id, s.folder)
    p.ctx.emit(Artifact("recipe", str(s.folder / "recipe.yaml")))
    s.started = time.time()
    module = s.loaded.module.to(s.device)
    s.before = summarize(module, on_device(s.loaded.example_inputs(), s.device))


# The job, in order. A stage with nothing to do (no training, no export) returns at once.
STAGE_FUNCTIONS: tuple[Callable[[Pipeline, JobState], None], ...] = (
    load_stage, setup_stage, methods_stage, train_stage, save_stage, export_stage,
    deploy_stage, check_stage,
)  # fmt: skip


class Pipeline(PipelineRuns):
    """One job: its recipe, workspace and context, run through STAGE_FUNCTIONS."""

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

    def run(self) -> dict[str, Any]:
        """Every stage in order; returns the finished variant's card."""
        state = JobState(device=pick_device(self.recipe.train.device))
        torch.manual_seed(self.recipe.train.seed)
        # a DDP rank other than 0 trains with the others and writes nothing (engine.stage_rank)
        for stage in STAGE_FUNCTIONS if is_main_process() else WORKER_STAGES:
            stage(self, state)
        return state.card

    def export(self, loaded: Any, data: Any, path: Path, ctx: JobContext) -> Any:
        """Export the loaded model to `path` and check it (ONNX checker, parity, latency)."""
        from engine.export_variant import export_loaded

        ctx.progress(0.1, "exporting to ONNX")
        report = export_loaded(loaded, data, path, self.recipe.export, log=ctx.log,
                               isolate=ctx.isolate_export, checkpoint=ctx.checkpoint,
                               progress=ctx.progress)  # fmt: skip
        ctx.progress(1.0, "ONNX checked")
        return report
