"""JobContext: how stages report progress and honour cancel/pause.

`sub(start, end)` gives a stage its own 0..1 range inside the job's progress bar
(the idea of Orange3's `wrap_callback`), so a stage never needs to know where it
sits in the whole job.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from engine.events import Event, Log, Progress


class JobCancelled(Exception):
    """Raised at a batch boundary after `Job.cancel()`."""


class JobControl:
    """Thread-safe flags shared by the job and whoever drives it."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self.cancelled.set()
        self._running.set()  # wake a paused job so it can see the cancel

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> None:
        self._running.wait()


class JobContext:
    def __init__(
        self,
        emit: Callable[[Event], None],
        control: JobControl,
        start: float = 0.0,
        end: float = 1.0,
        t0: float | None = None,
    ):
        self._emit = emit
        self.control = control
        self.start, self.end = start, end
        self._t0 = time.perf_counter() if t0 is None else t0
        self._paused_s = 0.0
        # export in a child process, so the caller's GIL stays free (a GUI's event loop)
        self.isolate_export = False

    def emit(self, event: Event) -> None:
        self._emit(event)

    def log(self, message: str, level: str = "info") -> None:
        self._emit(Log(message, level))

    def sub(self, start: float, end: float) -> JobContext:
        """A context whose 0..1 maps onto [start, end] of this one."""
        span = self.end - self.start
        child = JobContext(
            self._emit, self.control, self.start + span * start, self.start + span * end, self._t0
        )
        child.isolate_export = self.isolate_export
        return child

    def progress(self, fraction: float, message: str = "") -> None:
        """Report this stage's progress (0..1); the ETA extrapolates the whole job."""
        frac = self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0)
        elapsed = time.perf_counter() - self._t0
        eta = elapsed * (1 - frac) / frac if frac > 0.01 else None
        self._emit(Progress(frac, message, eta))

    def checkpoint(self) -> None:
        """Call at batch boundaries: blocks while paused, raises JobCancelled after cancel."""
        if self.control.paused:
            self.log("paused")
            self.control.wait_if_paused()
            if not self.control.cancelled.is_set():
                self.log("resumed")
        if self.control.cancelled.is_set():
            raise JobCancelled()


class Controllable:
    """What Job and ContextJob share: thread-safe cancel/pause/resume on `self.control`, and
    `_emit`, which hands an event to every listener in `self.listeners`."""

    control: JobControl
    listeners: list[Callable[[Event], None]]

    def cancel(self) -> None:
        self.control.cancel()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def paused(self) -> bool:
        return self.control.paused

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken listener must not kill the work
                print(f"warning: an event listener failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
