"""The mouse wheel scrolls the form; it changes a field only when that field has focus."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from engine.methods.prune.unstructured import UnstructuredPruneConfig
from gui.widgets.config_form import ConfigForm
from gui.widgets.no_wheel import guard_wheel_in


def _wheel_down(widget: QWidget) -> None:
    """One notch of the wheel turned down, over the middle of `widget`."""
    local = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        local, QPointF(widget.mapToGlobal(local.toPoint())), QPoint(0, 0), QPoint(0, -120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(widget, event)


def _scrolled_form(qtbot, form: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(form)
    area.setWidgetResizable(True)
    area.resize(420, 160)  # much shorter than the form: there is something to scroll
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    return area


def test_wheel_over_unfocused_combo_scrolls_the_form_not_the_value(qtbot):
    form = ConfigForm(UnstructuredPruneConfig, path="methods[0]")
    area = _scrolled_form(qtbot, form)
    combo = form.editor("schedule")
    assert isinstance(combo, QComboBox)
    area.ensureWidgetVisible(combo)
    before_scroll = area.verticalScrollBar().value()
    before = combo.currentText()
    assert area.verticalScrollBar().maximum() > before_scroll  # room left to scroll down

    _wheel_down(combo)

    assert combo.currentText() == before == "oneshot"
    assert form.value().schedule == "oneshot"
    assert area.verticalScrollBar().value() > before_scroll  # the wheel scrolled the area


def test_wheel_changes_a_combo_the_user_focused(qtbot):
    form = ConfigForm(UnstructuredPruneConfig, path="methods[0]")
    area = _scrolled_form(qtbot, form)
    combo = form.editor("schedule")
    area.ensureWidgetVisible(combo)
    area.activateWindow()
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(combo.hasFocus)

    _wheel_down(combo)

    assert combo.currentText() != "oneshot"
    assert form.value().schedule == combo.currentText()


def test_guard_covers_spin_boxes_but_not_scroll_bars(qtbot):
    root = QWidget()
    qtbot.addWidget(root)
    lay = QVBoxLayout(root)
    spin, inner = QSpinBox(), QScrollArea()
    spin.setValue(5)
    lay.addWidget(spin)
    lay.addWidget(inner)
    assert guard_wheel_in(root) == 1  # the spin box; the scroll area's own bars are left alone
    assert spin.focusPolicy() == Qt.FocusPolicy.StrongFocus
    root.show()
    qtbot.waitExposed(root)
    _wheel_down(spin)
    assert spin.value() == 5


def test_wheel_over_the_optimize_page_scrolls_its_columns(qtbot, app_state):
    from gui.pages.optimize_page import OptimizePage

    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.resize(1000, 560)
    page.show()
    qtbot.waitExposed(page)
    checks = [
        (page.steps.cards[0].form.editor("schedule"), lambda: page.state.recipe.methods[0].schedule),
        (page.train_form.editor("device"), lambda: page.state.recipe.train.device),
    ]
    for combo, value in checks:
        area = combo.parentWidget()
        while not isinstance(area, QScrollArea):
            area = area.parentWidget()
        area.ensureWidgetVisible(combo)
        bar, before, text = area.verticalScrollBar(), area.verticalScrollBar().value(), combo.currentText()
        _wheel_down(combo)
        assert combo.currentText() == text and value() == text  # neither the form nor the recipe
        assert bar.value() > before  # the column scrolled instead


def test_every_combo_a_dialog_builds_later_is_guarded_too(qtbot):
    """Widgets made after the window (dialogs, other pages) are guarded when first shown."""
    from gui.widgets.no_wheel import guard_wheel_everywhere

    guard_wheel_everywhere()
    combo = QComboBox()
    combo.addItems(["classification", "causal-lm", "generic"])
    qtbot.addWidget(combo)
    combo.show()
    qtbot.waitExposed(combo)
    assert combo.property("wheelGuarded")
    assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus

    _wheel_down(combo)

    assert combo.currentText() == "classification"
