"""Compare page's Lineage tab: the variant tree drawn as boxes; a click selects the variant."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from engine.store import Workspace  # noqa: E402
from gui.pages.compare_page import ComparePage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.lineage_view import SELECTED, STYLES  # noqa: E402
from tests.engine.compare.lineage_workspace import build  # noqa: E402


@pytest.fixture
def page(qtbot, tmp_path):
    root = tmp_path / "ws"
    by_name = build(root)
    w = ComparePage(AppState(root))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    w.tabs.show_tab("Lineage")
    qtbot.waitExposed(w.tabs.lineage)
    return w, by_name


def test_tabs_are_plot_then_lineage_and_plot_is_shown_first(qtbot, tmp_path):
    build(tmp_path / "ws")
    w = ComparePage(AppState(tmp_path / "ws"))
    qtbot.addWidget(w)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["Plot", "Lineage", "Diff"]
    assert w.tabs.currentWidget() is w.tabs.plot_tab


def test_the_diff_tab_takes_the_selected_variant_as_b_and_its_parent_as_a(page):
    w, by_name = page
    kd, prune = by_name["prune-50-distilled"], by_name["prune-50"]
    picks = [w.tabs.diff.pick_a.itemData(i) for i in range(w.tabs.diff.pick_a.count())]
    assert len(picks) == 4 and by_name["prune-bad"].id not in picks  # finished variants only
    w.state.select_variant(kd.id)
    assert (w.tabs.diff.pick_a.currentData(), w.tabs.diff.pick_b.currentData()) == (prune.id, kd.id)
    w.state.select_variant(by_name["prune-bad"].id)  # nothing to diff: the picks stay
    assert w.tabs.diff.pick_b.currentData() == kd.id


def test_every_variant_and_file_is_one_box_and_the_baseline_appears_once(page):
    w, by_name = page
    boxes = w.tabs.lineage.boxes
    variants = [b for b in boxes.values() if b.node.kind == "variant"]
    files = [b for b in boxes.values() if b.node.kind == "artifact"]
    assert sorted(b.node.name for b in variants) == sorted(by_name)
    assert len(variants) == 6 and [b.node.name for b in variants].count("tiny-gpt (base)") == 1
    assert sorted(b.node.method for b in files) == ["onnx-fp32", "onnx-int4", "onnx-int8-dynamic"]
    # left to right by depth: base, its children, grandchildren / files
    x = {b.node.name: b.pos().x() for b in variants}
    assert x["tiny-gpt (base)"] < x["prune-50"] == x["int8"] == x["prune-bad"] < x["prune-50-distilled"]
    assert all(b.pos().x() > x["int8"] for b in files)
    # no two boxes overlap
    rects = [b.sceneBoundingRect() for b in boxes.values()]
    assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_failed_and_cancelled_runs_are_drawn_apart(page):
    w, by_name = page
    boxes = w.tabs.lineage.boxes
    bad, stopped = boxes[by_name["prune-bad"].id], boxes[by_name["prune-50-kd-stopped"].id]
    ok = boxes[by_name["prune-50-distilled"].id]
    assert bad.pen().color().name() == STYLES["failed"][0]
    assert stopped.pen().style() == Qt.PenStyle.DashLine and ok.pen().style() == Qt.PenStyle.SolidLine
    assert stopped.brush().color().name() == STYLES["cancelled"][1]
    assert {bad.brush().color().name(), stopped.brush().color().name()}.isdisjoint({ok.brush().color().name()})
    texts = [c.text() for c in bad.childItems()]
    assert texts[0] == "prune-bad" and texts[2].startswith("FAILED")
    assert "1.5" in bad.toolTip()


def test_clicking_a_box_selects_its_variant_everywhere(qtbot, page):
    w, by_name = page
    view, distilled = w.tabs.lineage, by_name["prune-50-distilled"]
    with qtbot.waitSignal(w.state.selected_variant_changed) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.box_center(distilled.id))
    assert sig.args == [distilled.id] and w.state.selected_variant == distilled.id
    assert w.selected().id == distilled.id  # the table follows
    assert view.boxes[distilled.id].pen().color() == SELECTED
    # a file box selects the variant it belongs to
    int8 = by_name["int8"]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.box_center(f"{int8.id}/onnx-int8-dynamic"))
    assert w.state.selected_variant == int8.id and view.selected() == int8.id
    assert view.boxes[distilled.id].pen().color() != SELECTED  # one highlight at a time


def test_a_selection_made_elsewhere_is_highlighted_and_survives_a_refresh(qtbot, page):
    w, by_name = page
    prune = by_name["prune-50"]
    w.state.select_variant(prune.id)
    assert w.tabs.lineage.boxes[prune.id].pen().color() == SELECTED
    Workspace(w.state.workspace.root).delete(by_name["prune-bad"].id)
    w.state.variants_changed.emit()
    boxes = w.tabs.lineage.boxes
    assert by_name["prune-bad"].id not in boxes and boxes[prune.id].pen().color() == SELECTED


def test_an_orphan_is_its_own_root(qtbot, page):
    w, by_name = page
    ws = Workspace(w.state.workspace.root)
    ws.delete(by_name["prune-50-kd-stopped"].id)
    ws.delete(by_name["prune-50"].id)
    w.refresh()
    orphan = w.tabs.lineage.boxes[by_name["prune-50-distilled"].id]
    assert orphan.node.orphan and orphan.pos().x() == w.tabs.lineage.boxes[by_name["tiny-gpt (base)"].id].pos().x()
    assert "deleted" in orphan.toolTip()


def test_an_empty_workspace_shows_no_tabs(qtbot, tmp_path):
    w = ComparePage(AppState(tmp_path / "empty"))
    qtbot.addWidget(w)
    w.show()
    assert w.tabs.isHidden() and w.tabs.lineage.boxes == {}


def test_double_click_opens_the_variant_on_the_export_page(qtbot, page):
    w, by_name = page
    view, int8 = w.tabs.lineage, by_name["int8"]
    with qtbot.waitSignal(w.state.navigate) as sig:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.box_center(f"{int8.id}/onnx-int4"))
    assert sig.args == ["Export"] and w.state.selected_variant == int8.id


def test_the_lineage_tab_fits_a_1024_window(page):
    w, _ = page
    assert w.minimumSizeHint().width() <= 1024 - 150  # room for the side bar
    view = w.tabs.lineage
    assert view.transform().m11() >= 0.6  # scaled to fit, never below readable
