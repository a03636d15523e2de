"""The Optimize page's live estimate: debounced, computed off the GUI thread, newest wins.

Applying pruning steps to a copy of a model takes seconds on a conv net, so a burst of
keystrokes restarts a short timer and only its end starts one computation, on a worker
thread. While that runs, newer requests wait for it (one computation at a time) and an
older result is never shown over a newer request's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from gui.threads import BackgroundCall

DEBOUNCE_MS = 300

# estimator(module, methods, example_inputs, task[, has_data]) -> engine.estimate.StepsEstimate
# (has_data is passed only when known, so a plain four-argument estimator still fits)
Estimator = Callable[..., Any]


def engine_estimator(
    module: Any, methods: tuple[Any, ...], example_inputs: Any, task: str, has_data: bool | None = None
) -> Any:
    """The engine's estimate: the steps applied in order to a deep copy of `module`."""
    from engine.estimate import estimate_steps

    return estimate_steps(module, methods, example_inputs, task, has_data)


class LiveEstimate(QObject):
    """`request(...)` after each edit; `ready(result, methods)` fires for the newest one only."""

    started = Signal()  # a request is waiting or running: show "estimating…"
    ready = Signal(object, object)  # (StepsEstimate, the methods tuple it was computed for)
    failed = Signal(str, object)  # (one-line reason, methods)

    def __init__(self, estimator: Estimator | None = None, delay_ms: int = DEBOUNCE_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.estimator = estimator or engine_estimator
        self.computations = 0  # how many estimates were started (a keystroke burst makes one)
        self.worker_threads: set[int] = set()  # thread idents the estimates ran on
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start)
        self._pending: tuple[Any, tuple[Any, ...], Callable[[], Any] | None, str, bool | None] | None = None
        self._generation = 0  # bumped by every request; a result of an older one is dropped
        self._running: BackgroundCall | None = None
        self._running_for: tuple[int, tuple[Any, ...]] = (0, ())  # (generation, methods) running

    def request(
        self,
        module: Any,
        methods: tuple[Any, ...],
        example_inputs: Callable[[], Any] | None = None,
        task: str = "generic",
        has_data: bool | None = None,
    ) -> None:
        """Estimate `methods` on `module` once edits pause (restarts the debounce timer).

        `example_inputs` is called on the worker thread (building inputs is torch work too).
        `has_data`: whether the recipe has data (what data-aware defaults resolve to).
        """
        self._pending = (module, tuple(methods), example_inputs, task, has_data)
        self._generation += 1
        self._timer.start()
        self.started.emit()

    def cancel(self) -> None:
        """Forget any waiting request and ignore the running one's result."""
        self._timer.stop()
        self._pending = None
        self._generation += 1

    def busy(self) -> bool:
        """True while a request waits for its timer or a computation runs."""
        return self._timer.isActive() or self._running is not None

    def wait(self, ms: int = 30000) -> bool:
        """Block until the running computation (if any) ends; for tests and shutdown."""
        return self._running.wait(ms) if self._running is not None else True

    def _start(self) -> None:
        if self._running is not None or self._pending is None:
            return  # one at a time: _finish starts the newest request when this one ends
        module, methods, example, task, has_data = self._pending
        self._pending = None
        self._running_for = (self._generation, methods)
        self.computations += 1
        estimator, threads = self.estimator, self.worker_threads

        def compute() -> Any:
            threads.add(threading.get_ident())
            args = (module, methods, example() if example else None, task)
            return estimator(*args) if has_data is None else estimator(*args, has_data)

        # bound methods of this QObject: Qt drops the connection if the page goes first
        self._running = BackgroundCall(compute, on_done=self._on_done, on_error=self._on_error)

    def _on_done(self, result: Any) -> None:
        self._finish(result, None)

    def _on_error(self, message: str) -> None:
        self._finish(None, message)

    def _finish(self, result: Any, error: str | None) -> None:
        generation, methods = self._running_for
        self._running = None
        if generation != self._generation:
            if self._pending is not None and not self._timer.isActive():
                self._start()  # a newer request arrived while this ran: compute it now
            return
        if error is not None:
            self.failed.emit(error, methods)
        else:
            self.ready.emit(result, methods)
