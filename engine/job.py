"""Job: runs a Recipe end to end. The CLI and the GUI call exactly this.

Stages: load → baseline (the unmodified parent, reused when already in the
workspace) → methods → train → finalize → save → export/check → report.
`run()` blocks, never raises for a bad input or a failure inside a stage, and
returns a JobResult; listeners see the same story as events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError
from engine.context import Controllable, JobCancelled, JobContext, JobControl
from engine.deploy.config import use_workspace
from engine.events import (
    Artifact,
    Cancelled,
    Event,
    Failed,
    Finished,
    LayerStats,
    Log,
    Metric,
    StageStarted,
)
from engine.failures import describe_failure
from engine.metrics_log import METRICS_FILE
from engine.recipe import Recipe
from engine.stages import Pipeline
from engine.store import Workspace, WorkspaceError, default_workspace, strict_json

Listener = Callable[[Event], None]


@dataclass
class JobResult:
    status: str  # finished | cancelled | failed
    run_id: str | None = None
    card: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    parent_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "finished"


class Job(Controllable):
    """`Job(recipe, listeners, workspace).run()`; cancel/pause/resume from any thread."""

    def __init__(
        self,
        recipe: Recipe,
        listeners: Iterable[Listener] = (),
        workspace: Workspace | str | Path | None = None,
        resume_run: str | None = None,
        isolate_export: bool = False,
    ):
        self.recipe = recipe
        # ONNX export in a child process: a GUI's event loop keeps running meanwhile
        self.isolate_export = isolate_export
        self.resume_run = resume_run  # continue this unfinished run from its training state
        self.listeners = list(listeners)
        self._workspace_arg = workspace
        self.control = JobControl()
        self.run_id: str | None = None

    # cancel / pause / resume / paused / _emit: Controllable (thread-safe)
    def run(self) -> JobResult:
        """Run every stage; returns the result (status finished / cancelled / failed)."""
        ctx = JobContext(self._emit, self.control)
        ctx.isolate_export = self.isolate_export
        try:
            arg = self._workspace_arg
            use_workspace(arg.root if isinstance(arg, Workspace) else arg or default_workspace())
            self.recipe.validate()  # deploy.targets may name that workspace's own targets
            ws = arg if isinstance(arg, Workspace) else Workspace(arg or default_workspace())
        except (ConfigError, ValueError, OSError) as exc:
            return self._failed(None, str(exc))
        pipeline = Pipeline(
            self.recipe, ws, ctx, on_run_created=self._attach_metrics_log, resume_run=self.resume_run
        )
        try:
            card = pipeline.run()
        except JobCancelled:
            if pipeline.run_id:
                _record(ws, pipeline.run_id, "cancelled", "cancelled by the user")
            self._emit(Log("cancelled; the run is recorded as cancelled", "warning"))
            self._emit(Cancelled(pipeline.run_id or ""))
            return JobResult("cancelled", pipeline.run_id, parent_id=pipeline.parent_id)
        except Exception as exc:  # recorded, reported, never raised to the caller
            # a failure while building the baseline is that (registered) run's failure
            run_id = pipeline.run_id or pipeline.baseline_id
            folder = ws.run_dir(run_id) if run_id else ws.root
            message = describe_failure(exc, self.recipe, pipeline.stage, folder)
            if run_id:
                _record(ws, run_id, "failed", message, traceback.format_exc())
            return self._failed(run_id, message, pipeline.parent_id)
        self._emit(Finished(pipeline.run_id or "", _finished_summary(card)))
        return JobResult("finished", pipeline.run_id, card, parent_id=pipeline.parent_id)

    def _failed(self, run_id: str | None, message: str, parent_id: str | None = None) -> JobResult:
        self._emit(Log(message, "error"))
        self._emit(Failed(run_id or "", message))
        return JobResult("failed", run_id, error=message, parent_id=parent_id)

    def _attach_metrics_log(self, run_id: str, folder: Path) -> None:
        """Append every metric and layer-stats event of this run to metrics.jsonl."""
        self.run_id = run_id
        path = folder / METRICS_FILE
        fh = path.open("a", encoding="utf-8")

        def write(event: Event) -> None:
            if fh.closed:
                return
            try:
                if isinstance(event, (Metric, LayerStats)):
                    fh.write(strict_json({"event": type(event).__name__,
                                          **dataclasses.asdict(event)}) + "\n")
                    fh.flush()
                elif isinstance(event, (Finished, Failed, Cancelled)):
                    fh.close()
            except OSError as exc:  # e.g. a full disk: the run itself reports the failure
                with contextlib.suppress(OSError):
                    fh.close()
                self._emit(Log(f"metrics.jsonl is no longer written: {exc.strerror}", "warning"))

        self.listeners.append(write)
        self._emit(Artifact("metrics", str(path)))
        self._emit(StageStarted("run", f"run {run_id} in {folder}"))


def _record(ws: Workspace, run_id: str, status: str, message: str, details: str = "") -> None:
    """Record how a run ended, even on a full disk (the workspace's reserve is freed for it)."""
    try:
        ws.mark(run_id, status, message)
    except (WorkspaceError, OSError):
        ws.release_reserve()
        try:
            ws.mark(run_id, status, message)
        except (WorkspaceError, OSError):  # its lock dies with this process: shown as crashed
            return
    if details:
        with contextlib.suppress(OSError):
            (ws.run_dir(run_id) / "error.txt").write_text(details, encoding="utf-8")


def _finished_summary(card: dict[str, Any]) -> dict[str, Any]:
    """Small plain-number summary for the Finished event."""
    out: dict[str, Any] = {"name": card.get("name")}
    out.update({f"metrics.{k}": v for k, v in card.get("metrics", {}).items()})
    out["sparsity.overall"] = card.get("sparsity", {}).get("overall")
    onnx = card.get("onnx") or {}
    out["onnx.latency_ms_p50"] = onnx.get("latency_ms_p50")
    return out
