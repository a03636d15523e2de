"""MainWindow wiring, remembered settings, closing during a job, and the app's screenshot mode."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from engine.events import StageStarted
from gui import app as gui_app
from gui.main_window import PAGES, MainWindow


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_navigation_status_bar_and_settings(qtbot, app_state, tmp_path):
    window = MainWindow(app_state, _settings(tmp_path))
    qtbot.addWidget(window)
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == list(PAGES)
    assert window.current_page() == "Model"
    app_state.navigate.emit("Run")
    assert window.current_page() == "Run" and window.current_widget() is window.run_page
    assert window.stack.currentWidget().widget() is window.run_page
    window.nav.setCurrentRow(PAGES.index("Compare"))
    assert window.stack.currentWidget().widget() is window.compare_page
    assert str(app_state.workspace.root) in window.workspace_label.text()

    other = tmp_path / "other-ws"
    assert window.open_workspace(other)
    assert str(other) in window.workspace_label.text()
    window.show_page("Optimize")
    window.resize(701, 502)  # fits the offscreen screen, which clamps restored geometry
    window.close()

    again = MainWindow(app_state, _settings(tmp_path))
    qtbot.addWidget(again)
    assert again.current_page() == "Optimize"
    assert again.size().width() == 701
    assert _settings(tmp_path).value("workspace") == str(other.resolve())


def test_run_from_optimize_then_close_cancels_and_waits(qtbot, app_state, tmp_path):
    window = MainWindow(app_state, _settings(tmp_path))
    qtbot.addWidget(window)
    started: list = []
    window.runner.event.connect(lambda e: started.append(e) if isinstance(e, StageStarted) and e.stage == "run" else None)
    window.show_page("Optimize")
    window.optimize_page.train_form.editor("max_steps").setText("400")
    window.optimize_page.run_button.click()
    assert window.current_page() == "Run"
    assert window.runner.running
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    assert not window.open_workspace(tmp_path / "elsewhere")  # not while a job writes here

    window.confirm_cancel = lambda: False  # "No": the window stays open, the job runs on
    window.close()
    assert window.runner.running

    window.confirm_cancel = lambda: True
    window.close()  # cancels, then waits for the job thread before accepting
    assert not window.runner.running or window.runner.wait(0)
    qtbot.waitUntil(lambda: window.run_page.last_result is not None, timeout=10000)
    result = window.run_page.last_result
    assert result.status == "cancelled"
    assert app_state.workspace.get(result.run_id).status == "cancelled"


def test_app_screenshot_mode_renders_every_page(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(gui_app, "app_settings", lambda: _settings(tmp_path))
    shots = tmp_path / "shots"
    code = gui_app.main(["--workspace", str(tmp_path / "ws"), "--page", "Optimize", "--screenshot", str(shots)])
    assert code == 0
    for name in PAGES:
        png = shots / f"{name.lower()}.png"
        assert png.is_file() and png.stat().st_size > 5000, png
