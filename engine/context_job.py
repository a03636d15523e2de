"""ContextJob: long work outside `Job` (re-export, sensitivity) run the way a Job runs.

It holds the same JobControl (cancel / pause / resume from any thread), hands the work the
same JobContext (progress, log, checkpoint) and ends with the same events (Finished /
Cancelled / Failed), so the CLI's `run_in_thread` (Ctrl+C cancels) and the GUI's worker
thread drive it exactly like a Job. `by` says who started it ("cli" or "gui"): the work
stores it with the record it leaves in the workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.context import Controllable, JobCancelled, JobContext, JobControl
from engine.events import Cancelled, Event, Failed, Finished, Log, StageStarted
from engine.job import JobResult

Work = Callable[[JobContext], dict[str, Any]]
EXPECTED = (ValueError, KeyError, OSError, RuntimeError)  # bad input or a failed step: one line


class ContextJob(Controllable):
    """`ContextJob(stage, work, listeners).run()` -> JobResult; cancel/pause from any thread."""

    def __init__(self, stage: str, work: Work, listeners: Iterable[Callable[[Event], None]] = (),
                 run_id: str | None = None, message: str = ""):
        self.stage = stage
        self.work = work
        self.listeners = list(listeners)
        self.run_id = run_id  # the variant it acts on (None for a recipe's sensitivity scan)
        self.message = message
        self.control = JobControl()

    def run(self) -> JobResult:
        """Run the work; status finished (card = its record), cancelled or failed; never raises."""
        ctx = JobContext(self._emit, self.control)
        self._emit(StageStarted(self.stage, self.message))
        try:
            record = self.work(ctx)
        except JobCancelled:
            self._emit(Log(f"{self.stage} cancelled; the workspace keeps what it had", "warning"))
            self._emit(Cancelled(self.run_id or ""))
            return JobResult("cancelled", self.run_id)
        except Exception as exc:  # reported as one line, like a Job's failed stage
            text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
            message = text.splitlines()[0] if text.strip() else type(exc).__name__
            if not isinstance(exc, EXPECTED):
                message = f"{type(exc).__name__}: {message}"
            self._emit(Log(message, "error"))
            self._emit(Failed(self.run_id or "", message))
            return JobResult("failed", self.run_id, error=message)
        self._emit(Finished(self.run_id or "", {"stage": self.stage}))
        return JobResult("finished", self.run_id, card=record)
