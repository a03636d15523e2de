"""Settings ▸ MLflow logging…: stored in QSettings, applied to the app's runs (real mlflow)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QMainWindow

from engine.events import Log
from gui.runner import JobRunner
from gui.widgets import tracking_settings as ts
from tests.gui.conftest import fast_recipe

ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "WORKBENCH_MLFLOW_ARTIFACTS")


@pytest.fixture
def clean_env(monkeypatch):
    """The variables the setting writes, restored after the test; a shell that set none."""
    for name in ENV:
        monkeypatch.setenv(name, "x")  # registered with monkeypatch, so undone afterwards
        monkeypatch.delenv(name)
        monkeypatch.setitem(ts.SHELL, name, None)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return monkeypatch


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_dialog_stores_the_choice_and_an_empty_uri_gives_the_shells_back(qtbot, tmp_path,
                                                                         clean_env):
    settings = _settings(tmp_path)
    dialog = ts.TrackingSettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.uri.setText(" http://mlflow.team:5000 ")
    dialog.experiment.setText("pruning")
    dialog.onnx.setChecked(True)
    dialog.accept()
    assert ts.stored(_settings(tmp_path)) == ("http://mlflow.team:5000", "pruning", True)
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.team:5000"
    assert os.environ["MLFLOW_EXPERIMENT_NAME"] == "pruning"
    assert os.environ["WORKBENCH_MLFLOW_ARTIFACTS"] == "onnx"
    assert ts.status_text() == "MLflow: http://mlflow.team:5000 · pruning"

    clean_env.setitem(ts.SHELL, "MLFLOW_TRACKING_URI", "http://from-the-shell:5000")
    again = ts.TrackingSettingsDialog(settings)
    qtbot.addWidget(again)
    assert again.uri.text() == "http://mlflow.team:5000" and again.onnx.isChecked()
    again.uri.clear()
    again.onnx.setChecked(False)
    again.accept()
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://from-the-shell:5000"
    assert "WORKBENCH_MLFLOW_ARTIFACTS" not in os.environ
    clean_env.setitem(ts.SHELL, "MLFLOW_TRACKING_URI", None)
    ts.apply_tracking_settings(settings)
    assert "MLFLOW_TRACKING_URI" not in os.environ and ts.status_text() == "MLflow: off"


def test_window_menu_and_an_in_process_run_logged_to_mlflow(qtbot, app_state, tmp_path,
                                                            clean_env):
    mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (its extra: [mlflow])")
    uri = (tmp_path / "mlruns").as_uri()
    settings = _settings(tmp_path)
    settings.setValue(ts.KEY_URI, uri)
    window = QMainWindow()  # what install needs of a MainWindow: its settings, menu, status bar
    window.settings = settings
    qtbot.addWidget(window)
    action = ts.install_tracking_setting(window)
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[-1] == "&Settings" and action.text() == "&MLflow logging…"
    assert window.statusBar().findChild(QLabel, "mlflow_status").text() == (
        f"MLflow: {uri} · workbench")

    runner = JobRunner()
    results: list = []
    runner.finished.connect(results.append)
    said: list[str] = []
    runner.event.connect(lambda e: said.append(e.message) if isinstance(e, Log) else None)
    assert runner.start(fast_recipe(), app_state.workspace)
    qtbot.waitUntil(lambda: bool(results), timeout=90000)
    assert results[0].ok, results[0].error
    assert f"MLflow: logging gui-test at {uri}, experiment workbench" in said  # the Run page's log
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("workbench").experiment_id])
    assert [r.data.tags["workbench.run_id"] for r in runs] == [results[0].run_id]
    assert runs[0].info.status == "FINISHED" and runs[0].info.run_name == "gui-test"
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "train/loss")] == [
        1, 2, 3, 4, 5, 6]
