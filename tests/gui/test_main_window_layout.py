"""The window at 1024 × 700, File → Open recipe switching the model everywhere, and a start-up
that shows the window before torch is imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.models.checkpoint import save_model
from engine.models.loaders import load_model
from engine.recipe import ModelSpec
from gui.main_window import PAGES, MainWindow

LOAD_MS = 60_000
REPO = Path(__file__).resolve().parents[2]


def _window(qtbot, state, tmp_path, **kw) -> MainWindow:
    window = MainWindow(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), **kw)
    qtbot.addWidget(window)
    return window


def test_window_fits_1024_by_700_and_a_long_path_does_not_widen_it(qtbot, app_state, tmp_path):
    window = _window(qtbot, app_state, tmp_path)
    window.show()
    window.model_page.sync_to_recipe()
    qtbot.waitUntil(lambda: app_state.model_info is not None, timeout=LOAD_MS)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() == 700)
    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 700
    area = window.stack.currentWidget()  # the Model page, in its scroll area
    assert area.widget() is window.model_page
    assert not area.horizontalScrollBar().isVisible()  # the Model page fits; nothing clipped

    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 12, "workspace")
    assert window.open_workspace(deep)
    assert str(deep) in window.workspace_label.text()  # full path kept (tooltip), drawn elided
    assert window.workspace_label.toolTip().endswith("workspace")
    assert window.minimumSizeHint().width() <= 1024
    window.resize(1024, 700)
    assert window.width() == 1024


def test_open_recipe_loads_its_model_on_every_page(qtbot, app_state, tmp_path):
    window = _window(qtbot, app_state, tmp_path)
    window.model_page.sync_to_recipe()
    qtbot.waitUntil(lambda: app_state.model_info is not None, timeout=LOAD_MS)
    assert app_state.model_info.spec.path == "tiny-gpt"
    before = app_state.model_info.loaded.module
    ckpt = save_model(load_model(ModelSpec()), tmp_path / "other-model")
    recipe = app_state.recipe.replace(name="other", model=ModelSpec(source="checkpoint", path=str(ckpt)))
    path = tmp_path / "other.yaml"
    path.write_text(recipe.to_yaml())
    assert window.optimize_page.load_recipe(path)  # what File → Open recipe calls
    qtbot.waitUntil(lambda: app_state.model_is_current() and not window.model_page.is_busy(), timeout=LOAD_MS)
    assert app_state.model_info.loaded.kind == "checkpoint"
    assert app_state.model_info.loaded.module is not before  # the Optimize estimate's model
    assert "other-model" in window.model_page.picker.current.text()


def test_deferred_pages_show_the_asked_page_once_built(qtbot, app_state, tmp_path):
    window = _window(qtbot, app_state, tmp_path, defer_pages=True)
    assert not window.pages_ready() and not window.nav.isEnabled()
    window.show_page("Run")  # asked for before the pages exist
    window.build_pages()
    assert window.pages_ready() and window.current_page() == "Run"
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == list(PAGES)


def test_the_window_is_shown_before_torch_is_imported(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        from PySide6.QtWidgets import QApplication
        import gui.main_window as mw
        shown = mw.MainWindow.show
        def show(self):
            shown(self)
            QApplication.processEvents()
            print("torch imported at show:", "torch" in sys.modules, flush=True)
            os._exit(0)
        mw.MainWindow.show = show
        from gui.app import main
        main(["--workspace", {str(tmp_path / "ws")!r}])
    """)
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert "torch imported at show: False" in out.stdout, out.stdout + out.stderr


def test_a_first_window_fits_the_screen_it_opens_on(qtbot, tmp_path):
    """No remembered geometry: the default size never exceeds the screen (a 1024 × 768 laptop)."""
    from PySide6.QtCore import QSettings, QSize

    from gui.main_window import MainWindow, default_size
    from gui.state import AppState

    assert default_size(QSize(1024, 768)) == QSize(1024, 768)
    assert default_size(QSize(1920, 1080)) == QSize(1280, 800)
    settings = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppState(tmp_path / "ws"), settings, defer_pages=True)
    qtbot.addWidget(window)
    available = window.screen().availableGeometry().size()
    assert window.width() <= available.width() and window.height() <= available.height()


def test_a_remembered_window_too_small_to_use_opens_at_the_default_size(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow, default_size
    from gui.state import AppState

    settings = QSettings(str(tmp_path / "small.ini"), QSettings.Format.IniFormat)
    tiny = MainWindow(AppState(tmp_path / "ws"), settings, defer_pages=True)
    qtbot.addWidget(tiny)
    tiny.resize(347, 213)  # what a real settings file held: the window opened as a sliver
    tiny.save_settings()
    again = MainWindow(AppState(tmp_path / "ws"), settings, defer_pages=True)
    qtbot.addWidget(again)
    assert again.size() == default_size(again.screen().availableGeometry().size())
