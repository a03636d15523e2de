"""Settings ▸ MLflow logging…: where the app's runs are also logged (engine/tracking).

The choice lives in the app's QSettings (tracking/*), never in a recipe: a recipe is a file
anyone may send, and only the user decides where their runs go. Applying it sets MLflow's
own variables (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME) and WORKBENCH_MLFLOW_ARTIFACTS for
this process, so the in-process runner (gui/runner.py, engine.tracking.listeners_from_env)
and the `workbench-cli` child of a multi-process run (which inherits them) log alike. An
empty field leaves what the shell that started the app set.
"""

from __future__ import annotations

import importlib.util
import os

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from engine.tracking import (
    DEFAULT_EXPERIMENT,
    ENV_ARTIFACTS,
    ENV_EXPERIMENT,
    ENV_URI,
    INSTALL_HINT,
)

KEY_URI, KEY_EXPERIMENT, KEY_ONNX = ("tracking/mlflow_uri", "tracking/mlflow_experiment",
                                     "tracking/mlflow_onnx")  # fmt: skip
# what the shell set before this app changed anything: an empty field gives it back
SHELL = {name: os.environ.get(name) for name in (ENV_URI, ENV_EXPERIMENT, ENV_ARTIFACTS)}


def stored(settings: QSettings) -> tuple[str, str, bool]:
    """(uri, experiment, onnx) as the settings hold them ('' when unset)."""
    uri = str(settings.value(KEY_URI, "") or "").strip()
    experiment = str(settings.value(KEY_EXPERIMENT, "") or "").strip()
    onnx = str(settings.value(KEY_ONNX, "false")).lower() in ("true", "1")
    return uri, experiment, onnx


def _set_env(name: str, value: str | None) -> None:
    if value:
        os.environ[name] = value
    else:
        os.environ.pop(name, None)


def apply_tracking_settings(settings: QSettings) -> str | None:
    """Make the stored choice this process's environment; the URI runs now log to (or None)."""
    uri, experiment, onnx = stored(settings)
    _set_env(ENV_URI, uri or SHELL[ENV_URI])
    _set_env(ENV_EXPERIMENT, experiment or SHELL[ENV_EXPERIMENT])
    _set_env(ENV_ARTIFACTS, "onnx" if onnx else SHELL[ENV_ARTIFACTS])
    return os.environ.get(ENV_URI) or None


def status_text() -> str:
    """One line for the status bar and the dialog: where runs go now."""
    uri = os.environ.get(ENV_URI)
    if not uri:
        return "MLflow: off"
    name = os.environ.get(ENV_EXPERIMENT) or DEFAULT_EXPERIMENT
    return f"MLflow: {uri} · {name}"


class TrackingSettingsDialog(QDialog):
    """The tracking URI, the experiment and whether ONNX files are uploaded too."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("MLflow logging")
        self.setMinimumWidth(560)
        uri, experiment, onnx = stored(settings)
        self.uri = QLineEdit(uri)
        self.uri.setPlaceholderText(SHELL[ENV_URI] or "off · e.g. http://mlflow.example:5000")
        self.uri.setClearButtonEnabled(True)
        self.experiment = QLineEdit(experiment)
        self.experiment.setPlaceholderText(SHELL[ENV_EXPERIMENT] or DEFAULT_EXPERIMENT)
        self.onnx = QCheckBox("Also upload the ONNX files (they can be large)")
        self.onnx.setChecked(onnx)
        form = QFormLayout()
        form.addRow("Tracking URI", self.uri)
        form.addRow("Experiment", self.experiment)
        form.addRow("", self.onnx)
        intro = QLabel("With a tracking URI, every run started from this app is also logged "
                       "to MLflow: the recipe's settings as params, every training metric with "
                       "its step, the card's final numbers, the recipe, card and metrics files, "
                       "and how the run ended. If the server cannot be reached, the run goes on "
                       "and says so once. Empty: off.")
        trust = QLabel("Only this setting, $MLFLOW_TRACKING_URI or workbench-cli --mlflow choose "
                       "the server: a recipe file cannot send your runs anywhere.")
        self.notes = [intro, trust]
        if SHELL[ENV_URI]:
            self.notes.append(QLabel(f"The shell that started the app sets {ENV_URI}="
                                     f"{SHELL[ENV_URI]}; a URI here replaces it for this app."))
        if importlib.util.find_spec("mlflow") is None:
            missing = QLabel(f"MLflow is not installed in this environment: {INSTALL_HINT}")
            missing.setStyleSheet("color: #b26a00;")
            self.notes.append(missing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)  # fmt: skip
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        for note in self.notes[:1]:
            note.setWordWrap(True)
            box.addWidget(note)
        box.addLayout(form)
        for note in self.notes[1:]:
            note.setWordWrap(True)
            note.setStyleSheet(note.styleSheet() or "color: #555;")
            box.addWidget(note)
        box.addWidget(buttons)

    def accept(self) -> None:
        """Store the choice and apply it to the runs started from now on."""
        self.settings.setValue(KEY_URI, self.uri.text().strip())
        self.settings.setValue(KEY_EXPERIMENT, self.experiment.text().strip())
        self.settings.setValue(KEY_ONNX, "true" if self.onnx.isChecked() else "false")
        self.settings.sync()
        apply_tracking_settings(self.settings)
        super().accept()


def install_tracking_setting(window: QMainWindow) -> QAction:
    """Apply the stored choice; add Settings ▸ MLflow logging… and a status-bar note to
    `window` (a MainWindow: its `settings`). Returns the menu action."""
    settings: QSettings = window.settings  # type: ignore[attr-defined]
    apply_tracking_settings(settings)
    note = QLabel(status_text())
    note.setObjectName("mlflow_status")
    note.setStyleSheet("color: #555; padding: 0 6px;")
    window.statusBar().addPermanentWidget(note)
    action = QAction("&MLflow logging…", window)

    def open_dialog() -> None:
        if TrackingSettingsDialog(settings, window).exec():
            note.setText(status_text())

    action.triggered.connect(open_dialog)
    window.menuBar().addMenu("&Settings").addAction(action)
    return action
