"""Run a Job off the GUI thread and turn its events into Qt signals.

`JobRunner` runs `Job.run()` in a QThread (the same call the CLI makes);
`ProcessJobRunner` runs `workbench-cli run --events-json` as a QProcess (the
route for multi-process work under torchrun) and parses its JSON lines back into
the same events. Pages only see `RunnerBase`'s signals, so they work with either.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from engine.events import Log
from engine.job import Job, JobResult
from engine.recipe import Recipe
from engine.store import Workspace
from engine.tracking import listeners_from_env
from gui.process_runner import ProcessJobRunner, default_cli_command  # noqa: F401 (re-exported)
from gui.runner_base import BUSY_MESSAGE, RunnerBase  # noqa: F401 (BUSY_MESSAGE: re-exported)


def preload_torch_internals() -> None:
    """Import what torch otherwise loads on first use inside a job (torch._dynamo, ~1 s).

    Building an optimizer or counting FLOPs imports torch._dynamo; its import holds the
    GIL in long C calls (unmarshalling, operator registration), which froze the GUI for
    100-250 ms during the first run. Done once, early, while nothing is animating.
    """
    import torch._dynamo  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401


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
        # MLflow too when the user set a URI (Settings ▸ MLflow logging…, or the shell's)
        mlflow = listeners_from_env(
            workspace, lambda text, level: self.event.emit(Log(text, level)))
        self.job = Job(recipe, [self.event.emit, *mlflow], workspace=workspace,
                       resume_run=resume_run, isolate_export=self.isolate_export)
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
