"""Python's cyclic garbage collection in a Qt app: on the GUI thread only, and never the one
that destroys a widget tree.

Two ways a collection crashes PySide:
- run on a job or export thread (any allocation there can trigger one), it frees Qt objects
  off their thread;
- a widget tree dropped while it sits in a reference cycle (a plot item holding a bound
  method of the widget that owns the plot is enough) is torn down from inside the collection:
  the collector frees the Python wrappers in its own order, one of them deletes its C++ object
  and the children with it, and Qt then touches a child that is already gone. PySide6 6.11 +
  pyqtgraph 0.14 segfault there (tests/gui/test_qt_gc.py builds that case).

So automatic collection is off, and `GuiCollector` collects from a GUI-thread timer in two
steps: a collection with DEBUG_SAVEALL finds the unreachable objects without freeing any; the
unreachable top-level widgets still alive in C++ go to Qt (deleteLater), which deletes each tree
parent-first and marks the wrappers dead; everything else is freed at once, and the dead
wrappers with the next collection.
"""

from __future__ import annotations

import gc

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


def unreachable_top_level_widgets(generation: int = 2) -> list[QWidget]:
    """Top-level widgets alive in C++ that only garbage refers to; nothing is freed."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect(generation)
        return [o for o in gc.garbage
                if isinstance(o, QWidget) and shiboken6.isValid(o) and o.parentWidget() is None]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def hand_dropped_widgets_to_qt(generation: int = 2) -> list[QWidget]:
    """The dropped widget trees (unreachable top-level widgets), each given to Qt (deleteLater);
    keep the list until Qt has deleted them, or a collection frees them first."""
    doomed = unreachable_top_level_widgets(generation)
    for widget in doomed:
        widget.deleteLater()
    return doomed


def free_now() -> int:
    """Collect everything, letting Qt delete the dropped widget trees at once (at a point where
    no widget code is running: the end of a test, the end of the app); returns how many."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # deleteLater'd already
    doomed = hand_dropped_widgets_to_qt()  # held until Qt has deleted them, just below
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    count = len(doomed)
    del doomed
    gc.collect()  # the wrappers Qt just marked dead, and the rest of the garbage
    return count


class GuiCollector(QObject):
    """Turns automatic collection off and collects on the GUI thread, every `interval` s when
    enough was allocated (Python's own thresholds, as pyqtgraph's GarbageCollector does)."""

    def __init__(self, interval: float = 1.0, parent: QObject | None = None):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._handed: list[QWidget] = []  # given to Qt last time; held until Qt deleted them
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval * 1000))

    def check(self) -> None:
        # Qt ran their deferred deletes since the last tick (unless a nested loop still runs)
        self._handed = [w for w in self._handed if shiboken6.isValid(w)]
        counts = gc.get_count()
        if counts[0] <= self.threshold[0]:
            return  # not enough allocated since the last collection
        # as Python picks: the oldest generation whose count is past its threshold
        generation = next(gen for gen in (2, 1, 0) if gen == 0 or counts[gen] > self.threshold[gen])
        self._handed += hand_dropped_widgets_to_qt(generation)
        # the rest of the garbage, now one generation older (the handed ones are held above)
        gc.collect(min(generation + 1, 2))

    def stop(self) -> None:
        """Stop collecting; automatic collection is back on if it was on before (the app's end)."""
        self.timer.stop()
        if self._was_enabled:
            gc.enable()
