"""The installed Qt binding must not leak or drop references on Signal.emit().

PySide6 6.12.0 drops one reference to True per emit from Python; after ~10k signals the
app dies in bool_dealloc mid-run. pyproject excludes that version; this keeps it excluded.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    with_value = Signal(object)


def test_emitting_keeps_the_refcounts_of_true_false_and_none(qapp) -> None:
    emitter = _Emitter()
    received: list[object] = []
    emitter.with_value.connect(received.append)
    before = [sys.getrefcount(o) for o in (True, False, None)]
    for i in range(500):
        emitter.plain.emit()
        emitter.with_value.emit(i)
    after = [sys.getrefcount(o) for o in (True, False, None)]
    assert len(received) == 500
    # a few references may come and go with the interpreter's own work; 500 lost would not
    assert all(abs(a - b) < 50 for a, b in zip(after, before, strict=True)), (before, after)
