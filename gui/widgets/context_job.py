"""Run an engine ContextJob (re-export, sensitivity) off the GUI thread, as the runner runs a Job.

The job's events cross to the GUI thread as Qt signals; `cancel()` calls the job's
JobControl directly (a queued slot would never run while the worker is busy). The end comes
as exactly one of `finished(record)`, `cancelled()` or `failed(message)`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.context_job import ContextJob, Work
from engine.events import Log, Progress
from engine.job import JobResult
from gui.threads import BackgroundCall


class _Relay(QObject):
    """Carries the worker thread's events to the GUI thread (a queued signal)."""

    event = Signal(object)


class GuiContextJob(QObject):
    """One ContextJob on a worker thread: progress(fraction, text), log(text), then its end."""

    progress = Signal(float, str)
    log = Signal(str)
    finished = Signal(object)  # the work's record (the export's onnx dict, the stored scan)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, stage: str, work: Work, run_id: str | None = None, message: str = "",
                 parent: QObject | None = None):
        super().__init__(parent)
        self._relay = _Relay(self)
        self._relay.event.connect(self._on_event)
        self.job = ContextJob(stage, work, [self._relay.event.emit], run_id, message)
        self.result: JobResult | None = None
        self.call = BackgroundCall(self.job.run, self._done, self.failed.emit)

    def cancel(self) -> None:
        """Stop at the next checkpoint (an export child process is killed at once)."""
        self.job.cancel()

    def is_cancelling(self) -> bool:
        return self.job.control.cancelled.is_set()

    def toggle_pause(self) -> bool:
        """Hold the work at its next checkpoint, or let a held one go on; True when now paused.
        (A re-export in a child process is not held: its checkpoint only polls for a cancel.)"""
        (self.job.resume if self.job.paused else self.job.pause)()
        return self.job.paused

    def is_paused(self) -> bool:
        return self.job.paused

    def wait(self, ms: int = 60_000) -> bool:
        """Block until the worker thread has ended."""
        return self.call.wait(ms)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            self.progress.emit(event.fraction, event.message)
        elif isinstance(event, Log) and event.level != "error":  # the error comes as `failed`
            self.log.emit(event.message)

    def _done(self, result: JobResult) -> None:
        self.result = result
        if result.status == "finished":
            self.finished.emit(result.card)
        elif result.status == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(result.error or "failed")
