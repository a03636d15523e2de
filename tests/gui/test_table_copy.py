"""Tables copy as TSV with a header row: Ctrl+C and right-click; a table gets its copy filter
the first time it has focus (install_table_copy watches the application's focus changes)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QContextMenuEvent, QStandardItem, QStandardItemModel  # noqa: E402
from PySide6.QtWidgets import QApplication, QTableView, QTableWidget, QTableWidgetItem  # noqa: E402

from gui.widgets.table_copy import (  # noqa: E402
    COPY_ALL_TEXT,
    COPY_TEXT,
    TableCopyFilter,
    install_table_copy,
    table_tsv,
)

HEADER = ["layer", "params", "note"]
ROWS = [["fc1", "1,024", "kept"], ["fc2", "512", "cut\tin half"], ["head", "64", "line\nbreak"]]


@pytest.fixture
def table(qtbot):
    install_table_copy(QApplication.instance())
    t = QTableWidget(len(ROWS), len(HEADER))
    t.setHorizontalHeaderLabels(HEADER)
    for r, row in enumerate(ROWS):
        for c, text in enumerate(row):
            t.setItem(r, c, QTableWidgetItem(text))
    qtbot.addWidget(t)
    t.show()
    qtbot.waitExposed(t)
    t.activateWindow()
    t.setFocus()
    # focus, as a click gives it, is what hands the table its filter: nothing is set up by hand
    qtbot.waitUntil(lambda: t.findChild(TableCopyFilter) is not None, timeout=3000)
    QApplication.clipboard().clear()
    return t


def _select(t: QTableView, cells: list[tuple[int, int]]) -> None:
    t.clearSelection()
    for r, c in cells:
        t.selectionModel().select(t.model().index(r, c), QItemSelectionModel.SelectionFlag.Select)


def test_ctrl_c_with_nothing_selected_copies_the_whole_table(qtbot, table):
    table.clearSelection()
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == (
        "layer\tparams\tnote\nfc1\t1,024\tkept\nfc2\t512\tcut in half\nhead\t64\tline break\n")


def test_ctrl_c_copies_the_selected_rows_and_columns_with_their_headers(qtbot, table):
    _select(table, [(0, 0), (0, 1), (2, 0), (2, 1)])
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "layer\tparams\nfc1\t1,024\nhead\t64\n"


def test_hidden_columns_are_left_out_and_a_model_view_works_too(qtbot):
    install_table_copy(QApplication.instance())
    model = QStandardItemModel(2, 3)
    model.setHorizontalHeaderLabels(["a", "secret", "b"])
    for r in range(2):
        for c in range(3):
            model.setItem(r, c, QStandardItem(f"{r}{c}"))
    view = QTableView()
    view.setModel(model)
    view.setColumnHidden(1, True)
    qtbot.addWidget(view)
    assert table_tsv(view) == "a\tb\n00\t02\n10\t12\n"


def test_right_click_offers_copy_as_tsv_and_it_copies_the_selection(qtbot, table):
    _select(table, [(1, 2)])
    seen: list[str] = []

    def pick() -> None:  # the menu is up (modal): note its entries and choose "Copy as TSV"
        menu = QApplication.activePopupWidget()
        seen.extend(a.text() for a in menu.actions() if a.text())
        next(a for a in menu.actions() if a.text() == COPY_TEXT).trigger()
        menu.close()

    QTimer.singleShot(50, pick)
    pos = table.visualRect(table.model().index(1, 2)).center()
    QApplication.sendEvent(table.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                                                               table.viewport().mapToGlobal(pos)))
    assert seen == [COPY_TEXT, COPY_ALL_TEXT]
    assert QApplication.clipboard().text() == "note\ncut in half\n"


def test_the_compare_table_menu_keeps_its_entries_and_adds_copy(qtbot, tmp_path):
    from engine.store import Workspace
    from gui.pages.compare_page import ComparePage
    from gui.state import AppState

    Workspace(tmp_path / "ws")
    page = ComparePage(AppState(tmp_path / "ws"))
    qtbot.addWidget(page)
    texts = [a.text() for a in page.context_menu().actions()]
    assert "Rename…" in texts and texts[-2:] == [COPY_TEXT, COPY_ALL_TEXT]


def test_no_application_wide_filter_and_one_filter_per_table(qtbot, table):
    install_table_copy(QApplication.instance())  # a second install changes nothing
    assert QApplication.instance().findChild(TableCopyFilter) is None  # never on every event
    assert len(table.findChildren(TableCopyFilter)) == 1
    other = QTableWidget(1, 1)
    qtbot.addWidget(other)
    other.show()
    qtbot.waitExposed(other)
    other.activateWindow()
    other.setFocus()
    qtbot.waitUntil(lambda: other.findChild(TableCopyFilter) is not None, timeout=3000)
    table.activateWindow()
    table.setFocus()
    qtbot.waitUntil(lambda: table.hasFocus(), timeout=3000)
    assert len(table.findChildren(TableCopyFilter)) == 1
