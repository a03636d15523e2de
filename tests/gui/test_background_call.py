"""BackgroundCall under the load the live estimate puts on it: many short calls in a row."""

from __future__ import annotations

import threading
import time

from gui import threads
from gui.threads import BackgroundCall


def test_many_short_calls_in_a_row_all_arrive_without_a_crash(qtbot):
    """Each call's worker was freed twice (deferred delete in the ending thread and Python's
    own release on the GUI thread): one of ~150 calls segfaulted the process."""
    results: list[int] = []
    ran_on: set[int] = set()
    current: list[BackgroundCall | None] = [None]

    def finish(value: int) -> None:
        results.append(value)
        current[0] = None  # drop the handle at once, as LiveEstimate does

    def work(i: int) -> int:
        ran_on.add(threading.get_ident())
        return i * i

    for i in range(200):
        current[0] = BackgroundCall(lambda i=i: work(i), on_done=finish)
        qtbot.waitUntil(lambda: current[0] is None, timeout=5000)
    qtbot.waitUntil(lambda: not threads._LIVE, timeout=5000)
    assert results == [i * i for i in range(200)]
    assert threading.get_ident() not in ran_on


def test_waiting_on_the_gui_thread_ends_with_the_call(qtbot):
    """The thread quits itself: a wait() on the GUI thread (closing the window) is not held
    up until its timeout by a quit queued to that same, blocked thread."""
    call = BackgroundCall(lambda: time.sleep(0.2) or "done")
    start = time.perf_counter()
    assert call.wait(10000)
    assert time.perf_counter() - start < 5
    with qtbot.waitSignal(call.done, timeout=5000) as got:
        pass
    assert got.args == ["done"]
