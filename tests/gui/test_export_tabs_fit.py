"""Export page at 1024 x 700: every tab of a quantized variant is in sight, none behind scroll arrows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QToolButton  # noqa: E402

from tests.gui.quantized_run import export_window, quantized_run  # noqa: E402


def _tabs_in_sight(tabs) -> list[str]:
    """Titles of the visible tabs whose whole rectangle lies inside the shown tab bar."""
    bar = tabs.tabBar()
    return [tabs.tabText(i) for i in range(tabs.count())
            if tabs.isTabVisible(i) and bar.rect().contains(bar.tabRect(i))]


def test_all_six_tabs_fit_a_1024_px_window(qtbot, tmp_path_factory, tmp_path):
    root, run_id = quantized_run(tmp_path_factory)
    window, _state = export_window(qtbot, root, run_id, tmp_path / "s.ini")
    tabs = window.export_page.tabs
    qtbot.waitUntil(lambda: window.width() == 1024 and tabs.tabBar().width() > 100)
    visible = [tabs.tabText(i) for i in range(tabs.count()) if tabs.isTabVisible(i)]
    assert len(visible) == 6  # files, per-layer error, ONNX file, family, run folder, targets
    assert _tabs_in_sight(tabs) == visible
    assert "Run folder" in visible
    bar = tabs.tabBar()
    assert bar.sizeHint().width() <= bar.width() <= tabs.width()  # no scroll arrows needed
    assert not any(b.isVisible() for b in bar.findChildren(QToolButton))
    assert all(tabs.tabToolTip(i) for i in range(tabs.count()))  # the full name on hover
    # the tabs column keeps the rest of the page roomy: the shrink card is not squeezed
    shrink = window.export_page.details.columns.itemAt(0).widget()
    assert shrink.width() >= 380
    # each tab opens in place
    for i in range(tabs.count()):
        if tabs.isTabVisible(i):
            tabs.setCurrentIndex(i)
            assert _tabs_in_sight(tabs) == visible
