"""Lineage tab controls: fold a subtree (+N hidden), filter by name / method / status, save as PNG."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from gui.pages.compare_page import ComparePage  # noqa: E402
from gui.state import AppState  # noqa: E402
from tests.engine.compare.lineage_workspace import build  # noqa: E402


@pytest.fixture
def tab(qtbot, tmp_path):
    by_name = build(tmp_path / "ws")
    page = ComparePage(AppState(tmp_path / "ws"))
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    page.tabs.show_tab("Lineage")
    qtbot.waitExposed(page.tabs.lineage)
    return page.tabs.lineage_tab, by_name


def _variants(view):
    return sorted(b.node.name for b in view.boxes.values() if b.node.kind == "variant")


def test_the_toggle_folds_a_subtree_and_the_box_says_how_many_are_hidden(qtbot, tab):
    t, by_name = tab
    view, prune = t.view, by_name["prune-50"]
    assert view.boxes[prune.id].toggle.text == "−"
    assert view.boxes[by_name["prune-bad"].id].toggle is None  # nothing below it: no toggle
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.toggle_center(prune.id))
    qtbot.waitUntil(lambda: prune.id in view.collapsed)
    assert by_name["prune-50-distilled"].id not in view.boxes and by_name["prune-50-kd-stopped"].id not in view.boxes
    assert view.hidden_count(prune.id) == 2 and view.boxes[prune.id].toggle.text == "+2"
    assert "2 hidden" in view.boxes[prune.id].toggle.toolTip() and t.count.text() == "2 folded away"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.toggle_center(prune.id))
    qtbot.waitUntil(lambda: by_name["prune-50-distilled"].id in view.boxes)
    assert view.hidden_count(prune.id) == 0 and len(_variants(view)) == 6


def test_collapse_all_leaves_the_root_and_selecting_a_hidden_variant_unfolds_it(qtbot, tab):
    t, by_name = tab
    view, base = t.view, by_name["tiny-gpt (base)"]
    t.collapse_button.click()
    assert list(view.boxes) == [base.id] and view.boxes[base.id].toggle.text == "+8"
    view.select(by_name["prune-50-distilled"].id)  # chosen in the table: shown again
    assert view.selected() == by_name["prune-50-distilled"].id and base.id not in view.collapsed
    t.collapse_button.click()
    t.expand_button.click()
    assert len(_variants(view)) == 6 and not t.expand_button.isEnabled()


def test_the_filter_keeps_matches_and_their_ancestors_faded(qtbot, tab):
    t, by_name = tab
    view = t.view
    qtbot.keyClicks(t.filter_box, "distilled")
    assert _variants(view) == ["prune-50", "prune-50-distilled", "tiny-gpt (base)"]
    assert view.boxes[by_name["prune-50-distilled"].id].opacity() == 1.0
    assert view.boxes[by_name["prune-50"].id].opacity() < 0.6  # kept as an ancestor only
    assert t.count.text() == "1 match"
    t.filter_box.setText("cancelled")
    assert _variants(view) == ["prune-50", "prune-50-kd-stopped", "tiny-gpt (base)"]
    t.filter_box.setText("zzz")
    assert view.boxes == {} and "Nothing matches" in view.scene().items()[0].text()
    t.filter_box.clear()
    assert len(_variants(view)) == 6 and all(b.opacity() == 1.0 for b in view.boxes.values())


def test_save_as_png_writes_the_whole_drawing(qtbot, tab, tmp_path):
    t, by_name = tab
    view = t.view
    path = view.save_png(tmp_path / "lineage.png")
    image = QImage(str(path))
    rect = view.scene().sceneRect()
    assert (image.width(), image.height()) == (round(rect.width() * 2), round(rect.height() * 2))
    # the failed run's red border is in the picture
    red = {image.pixelColor(x, y).name() for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert "#c62828" in red
    view.toggle(by_name["tiny-gpt (base)"].id)
    small = QImage(str(view.save_png(tmp_path / "folded.png")))
    assert small.height() < image.height() / 3  # the folded drawing is one box
    with pytest.raises(OSError):
        view.save_png(tmp_path / "no-such-folder" / "x.png")
