"""The Compare page's Report button writes the HTML report on a worker thread, and the report
opens in a real browser (QtWebEngine: Chromium, headless, in a process of its own:
tests/gui/report_browser.py) with every embedded image loaded.

Runs on the shared exported pair (a parent and its pruned, int8-quantized child). With
WORKBENCH_SCREENSHOTS=DIR set, the Chromium rendering and the Compare page are saved there
as report-chromium.png and compare-report-button.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from tests.engine.compare.pair_workspace import exported_pair  # noqa: E402


def _shot(name: str, tmp_path: Path) -> str:
    out = os.environ.get("WORKBENCH_SCREENSHOTS")
    return os.path.join(out, name) if out else str(tmp_path / name)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return exported_pair(tmp_path_factory)


@pytest.fixture
def compare_window(qtbot, pair, tmp_path):
    """(MainWindow on the Compare page at 1024 x 700, its AppState)."""
    from gui.main_window import MainWindow
    from gui.state import AppState

    state = AppState(pair[0])
    window = MainWindow(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1024, 700)
    window.show()
    window.show_page("Compare")
    return window, state


def test_report_button_writes_off_the_gui_thread_and_offers_to_open(qtbot, pair, compare_window,
                                                                     tmp_path):
    root, base, cut = pair
    window, state = compare_window
    page = window.compare_page
    button = page.report_btn
    assert button.isVisible() and button.text() == "Report…"
    assert [t for t, _ in button.choices()] == ["All 2 variants"]  # nothing selected yet
    state.select_variant(cut)
    choices = dict(button.choices())
    assert list(choices) == ["Selected variant: cut", "cut and its parent base", "All 2 variants"]
    assert [v.id for v in choices["cut and its parent base"]] == [base, cut]
    button.folder = tmp_path
    button.write(choices["cut and its parent base"])
    # the call returned at once: the report is being written on a worker thread
    assert button.is_busy() and not button.isEnabled() and not list(tmp_path.glob("*.html"))
    qtbot.waitUntil(lambda: not button.is_busy(), timeout=60_000)
    written = list(tmp_path.glob("variants-2-*.html"))
    assert len(written) == 1 and button.last_path == written[0]
    assert page.message.text() == "Report written"
    assert button.box is not None and button.box.isVisible()
    assert str(written[0]) in button.box.text()
    assert "Open in browser" in [b.text() for b in button.box.buttons()]
    html = written[0].read_text(encoding="utf-8")
    assert "cut <span class=\"meta\">against</span> base" in html  # the recipe diff, cut vs base
    assert window.grab().save(_shot("compare-report-button.png", tmp_path))
    assert button.box.grab().save(_shot("compare-report-written.png", tmp_path))
    button.box.close()


def test_report_opens_in_chromium_with_every_image_loaded(pair, tmp_path):
    from engine.compare.report_html import write_report
    from engine.store import Workspace

    ws = Workspace(pair[0])
    out = write_report(ws, [ws.get(pair[1]), ws.get(pair[2])], tmp_path / "report.html")
    shot = _shot("report-chromium.png", tmp_path)
    run = subprocess.run([sys.executable, "-m", "tests.gui.report_browser", str(out), shot],
                         capture_output=True, text=True, timeout=180,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-2000:]
    state = json.loads(run.stdout.strip().splitlines()[-1])
    assert state["ok"] and state["saved"], state
    # two Pareto plots (metric vs latency, vs size) and each variant's training curves
    assert state["images"] == 4 and state["loaded"] == 4, state
    assert state["boxes"] >= 10, state  # both flowcharts drawn (5 + 8 boxes)
    from PySide6.QtGui import QImage

    image = QImage(shot)
    assert image.width() == 1200 and image.height() == state["height"] > 2000  # the whole page
    assert state["bottom_ink"] > 0.005, state  # painted down to the end, not a blank canvas
