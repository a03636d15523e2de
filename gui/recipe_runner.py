"""The Run page's runner: each recipe in the thread runner, or as a process when it needs one.

A recipe asking for more than one process (ddp, fsdp) runs as `workbench-cli run --events-json` in a
QProcess (the CLI starts torchrun and relays rank 0's events); anything else runs in the
QThread runner. Both emit RunnerBase's signals, forwarded here unchanged, so the page's
plots, log and buttons do not know which one ran.

Pause and Resume of the process write a control file (`workbench-cli run --control-file`):
rank 0 reads it and every rank pauses with it at the next step. Cancel stays SIGINT.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QObject

from engine.cli.control_file import write_control
from engine.cli.relay import wants_torchrun
from engine.recipe import Recipe
from engine.store import Workspace
from gui.process_runner import ProcessJobRunner
from gui.runner import JobRunner
from gui.runner_base import BUSY_MESSAGE, RunnerBase


class PausableProcessRunner(ProcessJobRunner):
    """The process runner with Pause/Resume through `--control-file` (a file in a temp folder,
    removed when the run ends). A continued (`resume`) run has no control file: no Pause."""

    def __init__(self, parent: QObject | None = None, command=None):
        super().__init__(parent, command)
        self.control_path: Path | None = None
        self._control_dir: tempfile.TemporaryDirectory | None = None
        self.finished.connect(self._drop_control)

    @property
    def can_pause(self) -> bool:  # type: ignore[override]  (a class attribute on the base)
        return self.control_path is not None

    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        if self.running:
            return super().start(recipe, workspace, resume_run)  # refused, as busy
        self._drop_control()
        if resume_run is not None:  # `workbench-cli resume` takes no control file
            return super().start(recipe, workspace, resume_run)
        self._control_dir = tempfile.TemporaryDirectory(prefix="workbench-control-")
        self.control_path = Path(self._control_dir.name) / "control"
        write_control(self.control_path, "run")
        command, path = self.command, self.control_path
        self.command = lambda recipe_path, root: [*command(recipe_path, root), "--control-file",
                                                  str(path)]  # fmt: skip
        try:
            return super().start(recipe, workspace, resume_run)
        finally:
            self.command = command

    def pause(self) -> None:
        if self.running and self.control_path is not None:
            write_control(self.control_path, "pause")  # rank 0 reads it within 0.2 s
            self._set_paused(True)

    def resume(self) -> None:
        if self.control_path is not None:
            write_control(self.control_path, "run")
            self._set_paused(False)

    def cancel(self) -> None:
        super().cancel()  # SIGINT: the ranks' cancel wakes them from a pause
        self._set_paused(False)

    def _drop_control(self, *_args: object) -> None:
        if self._control_dir is not None:
            self._control_dir.cleanup()
        self._control_dir, self.control_path = None, None


class RecipeRunner(RunnerBase):
    """Picks the thread or the process runner per start; `active` is the one that ran last."""

    def __init__(self, parent: QObject | None = None, thread_runner: RunnerBase | None = None,
                 process_runner: RunnerBase | None = None):  # fmt: skip
        super().__init__(parent)
        self.thread_runner = thread_runner or JobRunner(self)
        self.process_runner = process_runner or PausableProcessRunner(self)
        self.active: RunnerBase = self.thread_runner
        for runner in (self.thread_runner, self.process_runner):
            runner.event.connect(self.event)
            runner.finished.connect(self.finished)
            runner.running_changed.connect(self.running_changed)
            runner.paused_changed.connect(self.paused_changed)
            runner.refused.connect(self.refused)

    # state is the active runner's: the page asks between its signals
    @property
    def running(self) -> bool:
        return self.active.running

    @property
    def paused(self) -> bool:
        return self.active.paused

    @property
    def can_pause(self) -> bool:  # type: ignore[override]  (a class attribute on the base)
        return self.active.can_pause

    def runner_for(self, recipe: Recipe) -> RunnerBase:
        """The process runner for a multi-process (ddp, fsdp) recipe, else the thread runner."""
        return self.process_runner if wants_torchrun(recipe) else self.thread_runner

    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        if self.running:
            self.refused.emit(BUSY_MESSAGE)
            return False
        self.active = self.runner_for(recipe)  # before start: running_changed reads it
        return self.active.start(recipe, workspace, resume_run)

    def pause(self) -> None:
        self.active.pause()

    def resume(self) -> None:
        self.active.resume()

    def cancel(self) -> None:
        self.active.cancel()  # the process runner sends SIGINT: the CLI cancels every rank

    def wait(self, ms: int = 30000) -> bool:
        return self.active.wait(ms)
