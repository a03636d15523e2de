"""Running a job as `workbench-cli run --events-json` in a child process, its JSON lines as events.

The route for multi-process work (e.g. under torchrun); the pages see the same RunnerBase
signals as for the in-process JobRunner.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess

from engine.events import Cancelled, Event, Failed, Finished, Log, event_from_json
from engine.job import JobResult
from engine.recipe import Recipe
from engine.store import Workspace
from gui.runner_base import RunnerBase


class ProcessJobRunner(RunnerBase):
    """Runs `workbench-cli run --events-json` in a child process (e.g. under torchrun).

    `command` builds the argv from the recipe file and workspace; the default runs
    the CLI with this interpreter. Pausing a separate process is not offered.
    """

    can_pause = False

    def __init__(self, parent: QObject | None = None, command=None):
        super().__init__(parent)
        self.command = command or default_cli_command
        self.process: QProcess | None = None
        self._buffer = b""
        self._last: Event | None = None  # the terminal event, for the result
        self._stderr: list[str] = []
        self._tmpdir: tempfile.TemporaryDirectory | None = None

    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        if self._refuse_if_busy():
            return False
        self._tmpdir = tempfile.TemporaryDirectory(prefix="workbench-recipe-")
        path = Path(self._tmpdir.name) / "recipe.yaml"
        path.write_text(recipe.to_yaml(), encoding="utf-8")
        argv = self.command(path, workspace.root)
        if resume_run:  # the run folder holds the recipe; the CLI continues it by id
            argv = [*argv[: argv.index("run")], "resume", resume_run, *argv[argv.index("run") + 2 :]]
            if recipe.model.trust:  # the user's trust, given in this session
                argv.append("--trust")
        self._buffer, self._last, self._stderr = b"", None, []
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._set_running(True)
        self.process.start(argv[0], argv[1:])
        return True

    def pause(self) -> None:  # not offered: see can_pause
        pass

    def resume(self) -> None:
        pass

    def cancel(self) -> None:
        # SIGINT is what the CLI turns into job.cancel() (Ctrl+C)
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            pid = self.process.processId()
            if pid and hasattr(signal, "SIGINT") and os.name == "posix":
                os.kill(pid, signal.SIGINT)
            else:
                self.process.kill()

    def wait(self, ms: int = 30000) -> bool:
        return True if self.process is None else self.process.waitForFinished(ms)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = event_from_json(line)
            except ValueError:
                ev = Log(line)  # a stray print from a library: keep it visible
            if isinstance(ev, (Finished, Cancelled, Failed)):
                self._last = ev
            self.event.emit(ev)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self._stderr += [s for s in text.splitlines() if s.strip()]
        self._stderr = self._stderr[-50:]

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            message = f"could not start the job process: {self.process.errorString()}"
            self.event.emit(Failed("", message))
            self._finish(JobResult("failed", error=message))

    def _on_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        last = self._last
        if isinstance(last, Finished):
            result = JobResult("finished", last.run_id or None, dict(last.summary))
        elif isinstance(last, Cancelled) or code == 130:
            result = JobResult("cancelled", getattr(last, "run_id", None) or None)
        else:
            error = last.error if isinstance(last, Failed) else (
                self._stderr[-1] if self._stderr else f"the job process exited with code {code}"
            )
            if not isinstance(last, Failed):
                self.event.emit(Failed("", error))
            result = JobResult("failed", getattr(last, "run_id", None) or None, error=error)
        self._finish(result)

    def _finish(self, result: JobResult) -> None:
        if not self._running:
            return
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        self._end(result)


def default_cli_command(recipe_path: Path, workspace_root: Path) -> list[str]:
    """argv for one CLI run of a recipe; a torchrun launcher can wrap the same arguments."""
    return [sys.executable, "-m", "engine.cli", "run", str(recipe_path), "--events-json",
            "--workspace", str(workspace_root)]
