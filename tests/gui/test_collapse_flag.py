"""The collapse flag on the Export and Compare pages, and ratios read in their direction.

A real workspace holding the issue's case: a 38.6-perplexity parent, a structured-L1 child
at 41,605 (smaller and faster, and useless) and a child within the thresholds.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from gui.pages.compare_page import ComparePage  # noqa: E402
from gui.pages.export_page import ExportPage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.collapse_marker import COLLAPSED_COLOR  # noqa: E402
from tests.engine.collapse_cards import child_card, parent_card, save_workspace  # noqa: E402

HEADLINE = "Collapsed: perplexity rose from 38.6 to 41,605 (×1,078)"


def _cards() -> list[dict]:
    parent = parent_card()
    collapsed = child_card(parent, {"perplexity": 41605.0})
    fine = child_card(parent, {"perplexity": 39.1}, speedup=0.8, train_steps=400)
    fine.update(id="fine", name="pruned-taylor", method=collapsed["method"].replace("=l1", "=taylor"))
    fine["onnx"]["zip_bytes"] = int(parent["onnx"]["zip_bytes"] * 1.2)  # the zip grew
    return [parent, collapsed, fine]


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    return root, save_workspace(root, _cards())


def test_compare_marks_the_collapsed_row_red_with_a_tooltip(qtbot, ws):
    root, (base, collapsed, fine) = ws
    page = ComparePage(AppState(root))
    qtbot.addWidget(page)
    model = page.model
    row, ok_row = model.row_of(collapsed), model.row_of(fine)
    name, status, ppl = (model.column(c) for c in ("Name", "Status", "Perplexity"))

    def cell(r: int, c: int, role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole):
        return model.data(model.index(r, c), role)

    assert cell(row, status) == "finished, collapsed"
    assert cell(row, ppl).startswith("✘ 41,605")
    for c in (name, status, ppl):
        assert cell(row, c, Qt.ItemDataRole.ForegroundRole).color() == QColor(COLLAPSED_COLOR)
        tip = cell(row, c, Qt.ItemDataRole.ToolTipRole)
        assert tip.startswith(HEADLINE) and "try: importance: taylor" in tip
    assert not cell(row, name, Qt.ItemDataRole.DecorationRole).isNull()  # the red marker
    # the child within the thresholds has none of it
    assert cell(ok_row, status) == "finished" and not cell(ok_row, ppl).startswith("✘")
    assert cell(ok_row, name, Qt.ItemDataRole.DecorationRole) is None
    assert "Collapsed" not in (cell(ok_row, ppl, Qt.ItemDataRole.ToolTipRole) or "")


def test_compare_uses_the_cards_own_thresholds(qtbot, tmp_path):
    lenient = {"max_accuracy_drop": 0.05, "max_metric_ratio": 5000.0}
    root = tmp_path / "ws"
    ids = save_workspace(root, _cards(), checks=lenient)
    page = ComparePage(AppState(root))
    qtbot.addWidget(page)
    row = page.model.row_of(ids[1])
    assert page.model.data(page.model.index(row, page.model.column("Status"))) == "finished"


def test_export_card_puts_the_collapse_first(qtbot, ws):
    root, (base, collapsed, fine) = ws
    page = ExportPage(AppState(root))
    qtbot.addWidget(page)
    page.resize(1280, 900)
    page.state.select_variant(collapsed)
    r = page.shrink.report
    assert r["collapsed"] and r["outcome"] == "smaller_faster"
    text = page.shrink.verdict.text()
    assert text.index("✘ " + HEADLINE) < text.index("Likely cause") < text.index("Try:")
    assert "importance: taylor" in text and "Size and speed: Smaller and faster" in text
    assert "✔" not in text and COLLAPSED_COLOR in text
    assert page.shrink.row_text(4)[3].endswith("✘ collapsed (×1,078)")
    tile = page.tiles.tiles["metric"]
    assert "✘ 41,605 (×1,078)" in tile.value.text() and tile.toolTip().startswith(HEADLINE)
    # the child within the thresholds: no flag, and its grown zip and slower latency say so
    page.state.select_variant(fine)
    assert not page.shrink.report["collapsed"] and "Collapsed" not in page.shrink.verdict.text()
    assert page.shrink.row_text(2)[3] == "1.20× of the parent: larger"
    assert page.shrink.row_text(3)[3] == "1.25× slower"
    assert page.shrink.row_text(1)[3] == "0.79× of the parent"
    assert "✘" not in page.tiles.tiles["metric"].value.text()
    speed = page.tiles.tiles["speedup"]  # a speed ratio under 1 says it is slower
    assert "0.80×" in speed.value.text() and "slower" in speed.value.text()
    assert speed.toolTip() == page.shrink.report["size_verdict"]


def test_render_pages_with_a_collapsed_child(qtbot, ws, tmp_path):
    """Both pages in the main window, to PNG (kept under WB_SHOTS when set, for a look)."""
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    root, (base, collapsed, fine) = ws
    state = AppState(root)
    window = MainWindow(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1400, 950)
    window.show()
    out = os.environ.get("WB_SHOTS") or str(tmp_path)
    for name, selected in (("Compare", base), ("Export", collapsed)):
        state.select_variant(selected)  # Compare: the red row is not hidden under the selection
        state.navigate.emit(name)
        qtbot.wait(50)
        path = os.path.join(out, f"collapse_{name.lower()}.png")
        assert window.grab().save(path) and os.path.getsize(path) > 10_000
    window.close()  # shutdown(): waits for the window's worker threads before the test ends
