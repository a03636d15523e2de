"""Run one blocking call off the GUI thread and get its result back as a signal.

The worker is created without a parent (moveToThread refuses objects that have
one); the thread quits when the call ends and both objects are freed on the GUI thread. Callers
keep the returned handle until `done`/`failed` fires; `wait_all()` is called at
exit so no thread outlives the app.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

_LIVE: set[BackgroundCall] = set()


class _Worker(QObject):
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # shown to the user, never swallowed
            traceback.print_exc()
            self.failed.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        else:
            self.done.emit(result)


class BackgroundCall(QObject):
    """`BackgroundCall(fn, on_done, on_error)`: runs fn in a QThread, calls back on the GUI thread."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ):
        super().__init__()
        self.thread = QThread()
        self.worker = _Worker(fn)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.done.connect(self.done)
        self.worker.failed.connect(self.failed)
        # quit from the worker thread itself: a queued quit would wait for the GUI thread,
        # which may be the one blocked in wait() (closing the window during a model load hung
        # for the whole wait timeout)
        direct = Qt.ConnectionType.DirectConnection
        self.worker.done.connect(self.thread.quit, direct)
        self.worker.failed.connect(self.thread.quit, direct)
        # no worker.deleteLater: the worker is Python's, and a deferred delete run by the
        # finishing thread raced Python freeing the same object on the GUI thread (segfault
        # with many short calls); _forget lets it go on the GUI thread once the thread is over
        self.thread.finished.connect(self._forget)
        if on_done:
            self.done.connect(on_done)
        if on_error:
            self.failed.connect(on_error)
        _LIVE.add(self)
        self.thread.start()

    def _forget(self) -> None:
        self.thread.wait()  # `finished` comes just before the thread really ends
        _LIVE.discard(self)

    def wait(self, ms: int = 30000) -> bool:
        return self.thread.wait(ms)


def wait_all(ms: int = 30000) -> None:
    """Block until every background call has ended (used at application exit)."""
    for call in list(_LIVE):
        call.wait(ms)
