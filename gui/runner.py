"""Run a Job off the GUI thread and turn its events into Qt signals.

`JobRunner` runs `Job.run()` in a QThread (the same call the CLI makes);
`ProcessJobRunner` runs `workbench-cli run --events-json` as a QProcess (the
route for multi-process work under torchrun) and parses its JSON lines back into
the same events. Pages only see `RunnerBase`'s signals, so they work with either.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Qt, QThread, Signal, Slot

from engine.events import Cancelled, Event, Failed, Finished, Log, event_from_json
from engine.job import Job, JobResult
from engine.recipe import Recipe
from engine.store import Workspace

BUSY_MESSAGE = "a job is already running; cancel it or wait for it to finish first"


def preload_torch_internals() -> None:
    """Import what torch otherwise loads on first use inside a job (torch._dynamo, ~1 s).

    Building an optimizer or counting FLOPs imports torch._dynamo; its import holds the
    GIL in long C calls (unmarshalling, operator registration), which froze the GUI for
    100-250 ms during the first run. Done once, early, while nothing is animating.
    """
    import torch._dynamo  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401


class RunnerBase(QObject):
    """Signals and state shared by the thread and process runners."""

    event = Signal(object)  # an engine.events dataclass, delivered on the GUI thread
    finished = Signal(object)  # JobResult, after the last event
    running_changed = Signal(bool)
    paused_changed = Signal(bool)
    refused = Signal(str)  # start() while busy, or a start that could not happen

    can_pause = True  # whether pause()/resume() do anything for this runner

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running = False
        self._paused = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return self._paused

    def _refuse_if_busy(self) -> bool:
        if self._running:
            self.refused.emit(BUSY_MESSAGE)
            return True
        return False

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._set_paused(False)
        self.running_changed.emit(running)

    def _set_paused(self, paused: bool) -> None:
        if paused != self._paused:
            self._paused = paused
            self.paused_changed.emit(paused)

    def _end(self, result: JobResult) -> None:
        self._set_running(False)
        self.finished.emit(result)

    # the API every runner offers
    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        """Run `recipe`; with `resume_run`, continue that unfinished run from its train state."""
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    def wait(self, ms: int = 30000) -> bool:
        raise NotImplementedError


class _JobWorker(QObject):
    """Lives in the job's QThread; created without a parent so it can be moved there."""

    done = Signal(object)

    def __init__(self, job: Job):
        super().__init__()
        self.job = job

    @Slot()
    def run(self) -> None:
        try:
            result = self.job.run()
        except BaseException as exc:  # Job.run reports failures itself; this is a last guard
            result = JobResult("failed", self.job.run_id, error=f"{type(exc).__name__}: {exc}")
        self.done.emit(result)


class JobRunner(RunnerBase):
    """One in-process job at a time, on its own QThread."""

    # torch.onnx.export / onnxruntime hold the GIL for up to ~0.5 s: exporting in a child
    # process keeps this process's event loop turning (bench/gui_stall.py measures it)
    isolate_export = True

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.job: Job | None = None
        self._thread: QThread | None = None
        self._worker: _JobWorker | None = None

    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        """Start `recipe` in `workspace`; False (and `refused`) when a job is already running."""
        if self._refuse_if_busy():
            return False
        if self._thread is not None:
            # the last job has returned but its thread may still be winding down: a start
            # right after `finished` must not drop the only reference to a running QThread
            self._thread.wait()
        # Called on the job's thread: emitting a signal of this GUI-thread object
        # from there queues the event to the GUI thread, in order.
        self.job = Job(recipe, [self.event.emit], workspace=workspace, resume_run=resume_run,
                       isolate_export=self.isolate_export)
        self._thread = QThread()
        self._thread.setObjectName("workbench-job")
        self._worker = _JobWorker(self.job)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI
        # thread, which may be blocked in wait() at exit (a deadlock until timeout).
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._worker.done.connect(self._on_done)
        # a bound slot of this GUI-thread object, so it runs queued on the GUI thread (a lambda
        # would run on the finishing thread itself and could drop its last reference there)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.finished.connect(self._thread.deleteLater)
        self._set_running(True)
        self._thread.start()
        return True

    # Control goes straight to the job's thread-safe flags: a queued slot on the
    # worker would never run while it is busy inside job.run().
    def pause(self) -> None:
        if self.job is not None and self._running:
            self.job.pause()
            self._set_paused(True)

    def resume(self) -> None:
        if self.job is not None:
            self.job.resume()
            self._set_paused(False)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()  # also wakes a paused job so it can stop
            self._set_paused(False)

    def wait(self, ms: int = 30000) -> bool:
        """Block until the job thread has ended (for application exit); True if it has."""
        thread = self._thread
        return True if thread is None else thread.wait(ms)

    def _on_done(self, result: JobResult) -> None:
        self.job = None
        self._end(result)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if thread is None or thread is not self._thread:
            return  # a newer job has replaced it already
        # `finished` is emitted from the thread just before it exits, and dropping the last
        # Python reference deletes the QThread: wait for the exit first, or it can crash
        thread.wait()
        self._thread = None
        self._worker = None


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
