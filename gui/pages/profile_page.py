"""Profile page: where the time, memory and energy of a model go.

Profiles the model loaded on the Model page or a finished variant of the workspace (loaded in
the worker), with the settings form generated from ProfileConfig; a variant's profile is stored
as runs/<id>/profile.json and shown again when the variant is picked. Charts export to PNG + CSV.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.state import AppState
from gui.widgets.hint_box import hint_box
from gui.widgets.profile_job import MODEL, ProfileJob, Source, variant_artifacts
from gui.widgets.profile_settings import settings_panel
from gui.widgets.profile_view import ProfileView

SETTINGS_WIDTH = 280
EMPTY_TEXT = ("<h3>No profile yet</h3><p>Pick the loaded model or a finished variant above and "
              "press <b>Profile</b>:<br>time per layer and operator next to FLOPs, memory, latency "
              "curves,<br>whether it is compute- or memory-bound, and energy per inference.</p>")
NO_SOURCE = ("<h3>Nothing to profile</h3><p>Load a model on the <b>Model</b> page, or finish a run: "
             "its variant can be profiled here.</p>")


class ProfilePage(QWidget):
    """Source picker and buttons, settings form on the left, the profile's charts on the right."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.job: ProfileJob | None = None
        self.records: dict[str, dict[str, Any]] = {}  # source key -> record shown this session
        self.view = ProfileView()
        go_model = QPushButton("Go to the Model page")
        go_model.clicked.connect(lambda: state.navigate.emit("Model"))
        self.empty = hint_box(EMPTY_TEXT)
        self.no_source = hint_box(NO_SOURCE, go_model)
        self.stack = QStackedWidget()
        for w in (self.no_source, self.empty, self.view):
            self.stack.addWidget(w)
        body = QHBoxLayout()
        self.settings, self.form = settings_panel(SETTINGS_WIDTH)
        body.addWidget(self.settings)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_top())
        layout.addLayout(self._build_status())
        layout.addWidget(self.error)
        layout.addLayout(body, 1)
        state.model_loaded.connect(self._model_changed)
        state.variants_changed.connect(self.refresh)
        state.workspace_changed.connect(lambda _ws: self.refresh())
        state.selected_variant_changed.connect(self._follow_selection)
        self.combo.currentIndexChanged.connect(lambda _i: self._show_stored())
        self._set_busy(False)
        self.refresh()

    # -- building ------------------------------------------------------------------
    def _build_top(self) -> QHBoxLayout:
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(28)
        self.combo.setPlaceholderText("No model loaded and no finished variant yet")
        self.profile_btn = QPushButton("Profile")
        self.profile_btn.setToolTip("Measure this model now with the settings on the left")
        self.profile_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.export_btn = QPushButton("Export PNG + CSV…")
        self.export_btn.setToolTip("Write every chart as PNG and its numbers as CSV into a folder")
        self.export_btn.clicked.connect(self.choose_export)
        self.settings_btn = QToolButton()  # the charts take the whole width on a small window
        self.settings_btn.setText("Settings")
        self.settings_btn.setCheckable(True)
        self.settings_btn.setChecked(True)
        self.settings_btn.setToolTip("Show or hide the profile settings")
        self.settings_btn.toggled.connect(lambda on: self.settings.setVisible(on))
        top = QHBoxLayout()
        top.addWidget(self.settings_btn)
        top.addWidget(QLabel("Profile:"))
        top.addWidget(self.combo, 1)
        for b in (self.profile_btn, self.cancel_btn, self.export_btn):
            top.addWidget(b)
        return top

    def _build_status(self) -> QHBoxLayout:
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.log = QLabel()
        self.log.setStyleSheet("color: #555;")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error.hide()
        status = QHBoxLayout()
        status.addWidget(self.bar)
        status.addWidget(self.log, 1)
        return status

    # -- sources -------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-list the loaded model and the finished variants, keeping the chosen one."""
        keep = self.current_key()
        self.combo.blockSignals(True)
        self.combo.clear()
        info = self.state.model_info
        if info is not None:
            self.combo.addItem(f"Loaded model: {info.loaded.description}", MODEL)
        try:
            variants = self.state.workspace.variants("finished")
        except (OSError, ValueError):
            variants = []
        for v in reversed(variants):
            self.combo.addItem(f"Variant {v.name}  ·  {v.id}", v.id)
        index = self.combo.findData(keep) if keep else -1
        self.combo.setCurrentIndex(index if index >= 0 else 0)
        self.combo.blockSignals(False)
        self._show_stored()

    def _model_changed(self, _info: Any) -> None:
        self.records.pop(MODEL, None)  # that profile was of the model loaded before
        self.refresh()

    def _follow_selection(self, run_id: str) -> None:
        """A variant picked on Export or Compare is the one shown here (not during a run)."""
        if self.job is None and self.combo.findData(run_id) >= 0:
            self.choose(run_id)

    def current_key(self) -> str | None:
        return self.combo.currentData()

    def choose(self, key: str) -> None:
        """Pick a source by key (MODEL or a run id)."""
        self.combo.setCurrentIndex(self.combo.findData(key))

    def _store_id(self, key: str | None) -> str | None:
        """The variant a profile of `key` is stored with (the loaded model's, when it is one)."""
        if key == MODEL:
            info = self.state.model_info
            return info.variant.id if info is not None and info.variant is not None else None
        return key

    def _show_stored(self) -> None:
        key = self.current_key()
        self._set_busy(self.job is not None)
        if key is None:
            self.stack.setCurrentWidget(self.no_source)
            self.export_btn.setEnabled(False)
            return
        record, run_id = self.records.get(key), self._store_id(key)
        if record is None and run_id is not None:
            from engine.analysis.profile_store import load_profile

            try:
                record = load_profile(self.state.workspace, run_id)
            except (OSError, ValueError) as exc:  # a damaged file: one line naming it
                self._set_error(str(exc))
        self.show_record(record)

    def show_record(self, record: dict[str, Any] | None) -> None:
        """Draw `record` (a profile.json dict), or the empty hint for None."""
        if record is None:
            self.view.record = None  # nothing shown: nothing to export
            self.stack.setCurrentWidget(self.empty)
        else:
            self.view.show_record(record)
            self.stack.setCurrentWidget(self.view)
        self.export_btn.setEnabled(record is not None)

    def source(self) -> Source:
        """What Profile runs on now (a variant is loaded in the worker, not here)."""
        key, ws = self.current_key(), self.state.workspace
        run_id = self._store_id(key)
        arts = variant_artifacts(ws.get(run_id).card, ws.run_dir(run_id)) if run_id else ()
        if key == MODEL:
            return Source(MODEL, self.state.model_info.loaded, run_id, arts)
        return Source(key, None, run_id, arts)

    # -- running -------------------------------------------------------------------
    def start(self) -> bool:
        """Profile the chosen source on a worker thread; False when it cannot start."""
        from gui.widgets.profile_job import profile_work

        if self.job is not None or self.current_key() is None or self.form is None:
            return False
        cfg = self.form.value()
        if cfg is None:
            self._set_error("Fix the settings first: " + "; ".join(self.form.errors()))
            return False
        source = self.source()
        self._set_error("")
        self.job = ProfileJob(profile_work(source, cfg, self.state.workspace), self)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(lambda record, key=source.key: self._done(key, record))
        self.job.failed.connect(lambda message: self._failed(f"Profile failed: {message}"))
        self.job.cancelled.connect(lambda: self._failed("Profile cancelled."))
        self._set_busy(True, "Profiling…")
        return True

    def cancel(self) -> None:
        """Stop the running profile at its next measurement."""
        if self.job is not None:
            self.job.cancel()
            self.log.setText("Cancelling…")

    def is_busy(self) -> bool:
        return self.job is not None

    def wait(self, ms: int = 60000) -> bool:
        """Block until the running profile's thread has ended (exit, tests)."""
        return True if self.job is None else self.job.wait(ms)

    def _progress(self, fraction: float, text: str) -> None:
        if fraction >= 0:
            self.bar.setValue(round(fraction * 100))
        if text:
            self.log.setText(text)

    def _done(self, key: str, record: dict[str, Any]) -> None:
        self.job = None
        self.records[key] = record
        self._set_busy(False, "Profile finished" + (" and stored with the variant." if self._store_id(key) else "."))
        if key == self.current_key():
            self.show_record(record)

    def _failed(self, message: str) -> None:
        self.job = None
        self._set_busy(False)
        self._set_error(message)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.bar.setVisible(busy)
        if busy:
            self.bar.setValue(0)
        self.log.setText(text)
        self.profile_btn.setEnabled(not busy and self.current_key() is not None and self.form is not None)
        self.cancel_btn.setEnabled(busy)
        self.combo.setEnabled(not busy)

    def _set_error(self, text: str) -> None:
        self.error.setText(html.escape(text))
        self.error.setVisible(bool(text))

    # -- export --------------------------------------------------------------------
    def choose_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the profile's charts to a folder")
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str | Path) -> list[Path]:
        """Write every chart's PNG and CSV into `folder`; the status line says where."""
        try:
            files = self.view.export(folder)
        except OSError as exc:
            self._set_error(f"Export failed: {exc}")
            return []
        self.log.setText(f"Wrote {len(files)} files to {folder}")
        return files
