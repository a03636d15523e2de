"""Keep the mouse wheel from changing a field the user is only scrolling past.

A combo box, spin box or slider under the pointer takes wheel events by default, so
scrolling a long form silently changes whatever passes under the mouse (a schedule
went from oneshot to iterative to gradual). Guarded widgets take the wheel only while
they have keyboard focus; otherwise the event goes on to the parent scroll area.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

WHEEL_WIDGETS = (QComboBox, QAbstractSpinBox, QAbstractSlider)


class _WheelGuard(QObject):
    """Event filter: an unfocused widget passes wheel events on to its parents."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(obj, QWidget) or obj.hasFocus():
            return False
        area = _scroll_area_above(obj)
        if area is None:
            event.ignore()  # ignored + filtered: Qt offers a real wheel event to the parent
            return True
        # hand it to the scroll area ourselves: Qt only propagates wheel events that came
        # from the window system, and the form must scroll either way
        viewport = area.viewport()
        pos = QPointF(viewport.mapFromGlobal(event.globalPosition().toPoint()))
        forwarded = QWheelEvent(
            pos, event.globalPosition(), event.pixelDelta(), event.angleDelta(), event.buttons(),
            event.modifiers(), event.phase(), event.inverted(), event.source(),
        )
        QApplication.sendEvent(viewport, forwarded)
        return True


def _scroll_area_above(widget: QWidget) -> QAbstractScrollArea | None:
    """The nearest enclosing scroll area that can scroll (else the nearest one, or None)."""
    nearest = None
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            bar = parent.verticalScrollBar()
            if bar.maximum() > bar.minimum():
                return parent
            nearest = nearest or parent
        parent = parent.parentWidget()
    return nearest


_GUARD: _WheelGuard | None = None


def _guard() -> _WheelGuard:
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    return _GUARD


def ignore_wheel_unless_focused(widget: QWidget) -> QWidget:
    """Make `widget` take wheel events only while focused (clicking or Tab gives it focus)."""
    if widget.property("wheelGuarded"):
        return widget
    # StrongFocus: the wheel itself must not give focus (WheelFocus would undo the guard)
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_guard())
    widget.setProperty("wheelGuarded", True)
    return widget


def guard_wheel_in(root: QWidget) -> int:
    """Guard every combo box, spin box and slider under `root`; returns how many were found."""
    # scroll bars are sliders too, but the wheel is exactly what they are for
    found = [
        w for cls in WHEEL_WIDGETS for w in root.findChildren(cls) if not isinstance(w, QScrollBar)
    ]
    for w in found:
        ignore_wheel_unless_focused(w)
    return len(found)


class _PolishGuard(QObject):
    """Application filter: guards each wheel-taking widget when Qt first polishes it."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (
            event.type() == QEvent.Type.Polish
            and isinstance(obj, WHEEL_WIDGETS)
            and not isinstance(obj, QScrollBar)
        ):
            ignore_wheel_unless_focused(obj)
        return False


_APP_GUARD: _PolishGuard | None = None


def guard_wheel_everywhere() -> None:
    """Guard every combo/spin box/slider the application ever shows, pages and dialogs alike."""
    global _APP_GUARD
    app = QApplication.instance()
    if app is None or _APP_GUARD is not None:
        return
    # a widget is polished before it is first shown, so ones built later are covered too
    _APP_GUARD = _PolishGuard()
    app.installEventFilter(_APP_GUARD)
