"""Export page: the selected variant's ONNX export, its checks, and (re-)exporting it."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.cli.format import variant_row
from engine.fair_parent import comparison_parent
from engine.store import Variant
from gui.state import AppState
from gui.widgets.compare_table import compact_method
from gui.widgets.export_details import ExportDetails
from gui.widgets.export_runner import ExportRunner
from gui.widgets.fair_parent_note import FairParentNote
from gui.widgets.hint_box import hint_box
from gui.widgets.target_checks import TargetChecks

EMPTY_TEXT = (
    "<h3>Nothing to export yet</h3>"
    "<p>Run a recipe on the Run page; finished variants appear here,<br>"
    "with their ONNX file, checker result, parity and latency.</p>"
)
NOT_EXPORTED = (
    "<h3>Not exported yet</h3><p>This variant has no ONNX file. Press <b>Export / re-export</b> "
    "to write one into its run folder and check it in onnxruntime.</p>"
)


class ExportPage(QWidget):
    """Variant picker, did-it-shrink card, ONNX card, family chart, Export and Open-folder buttons."""

    keep_in_fp32 = Signal(list)  # layer names the Quantization-error tab asked to keep in fp32

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._variants: list[Variant] = []
        self.folder_box: QMessageBox | None = None  # the path, when no file manager opens

        top = self._build_top()
        self._build_status()
        self.note = FairParentNote(state)
        self.details = details = ExportDetails()
        # the parts by their old names (tests and callers read them off the page)
        self.tiles, self.shrink, self.card = details.tiles, details.shrink, details.card
        self.artifacts, self.tabs = details.artifacts, details.tabs
        self.family, self.family_title = details.family, details.family_title
        self._build_stack(details)
        self.targets = TargetChecks()  # the files against a deployment target (edge, mobile...)
        details.tabs.setTabToolTip(details.tabs.addTab(self.targets, "Targets"),
                                   "Deployment targets: each file's pass/fail per requirement")
        details.node_errors.keep_in_fp32_step.connect(self._keep_in_fp32)
        details.teacher.open_teacher.connect(state.select_variant)  # a distilled variant's teacher

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.note)
        layout.addWidget(details.teacher)  # also over 'Not exported yet' for a student
        layout.addWidget(self.runner)
        layout.addWidget(self.error)
        layout.addWidget(self.stack, 1)

        state.variants_changed.connect(self.refresh)
        state.workspace_changed.connect(lambda _ws: self.refresh())
        state.selected_variant_changed.connect(lambda _id: self.refresh())
        self.refresh()

    def _build_top(self) -> QHBoxLayout:
        """The variant picker with the Export and Open-folder buttons."""
        self.combo = QComboBox()
        # long entries (name · method · id) must not widen the window: the list shows them whole
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(28)
        self.combo.activated.connect(self._combo_chosen)
        self.export_btn = QPushButton("Export / re-export")
        self.export_btn.clicked.connect(self.export_selected)
        self.folder_btn = QPushButton("Open folder")
        self.folder_btn.clicked.connect(self.open_folder)
        top = QHBoxLayout()
        top.addWidget(QLabel("Variant:"))
        top.addWidget(self.combo, 1)
        top.addWidget(self.export_btn)
        top.addWidget(self.folder_btn)
        return top

    def _build_status(self) -> None:
        """The summary line, the export's progress/Cancel (or its last export) and the error line."""
        self.summary = QLabel()
        self.summary.setStyleSheet("font-size: 12pt;")
        self.summary.setWordWrap(True)
        self.runner = ExportRunner(self)  # the same export job as workbench-cli export
        self.runner.busy_changed.connect(self._on_busy)
        self.runner.exported.connect(self._exported)
        self.runner.cancelled.connect(self._export_cancelled)
        self.runner.failed.connect(self._export_failed)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        self.error.setStyleSheet("color: #c62828; font-weight: bold;")

    def _build_stack(self, details: QWidget) -> None:
        """The empty, not-exported and details views, one shown at a time (self.stack)."""
        go_run = QPushButton("Go to the Run page")
        go_run.clicked.connect(lambda: self.state.navigate.emit("Run"))
        self.empty = hint_box(EMPTY_TEXT, go_run)
        self.not_exported = hint_box(NOT_EXPORTED)
        self.stack = QStackedWidget()
        for w in (self.empty, self.not_exported, details):
            self.stack.addWidget(w)

    # -- which variant -------------------------------------------------------------
    def current_id(self) -> str | None:
        """The variant shown: the app's selection when finished, else the newest finished one."""
        ids = [v.id for v in self._variants]
        if self.state.selected_variant in ids:
            return self.state.selected_variant
        return ids[-1] if ids else None

    def _combo_chosen(self, index: int) -> None:
        run_id = self.combo.itemData(index)
        if run_id and run_id != self.state.selected_variant:
            self.state.select_variant(run_id)  # -> refresh

    def refresh(self) -> None:
        """Re-read the store and show the current variant."""
        self._variants = self.state.workspace.variants(status="finished")
        run_id = self.current_id()
        self.combo.blockSignals(True)
        self.combo.clear()
        for v in reversed(self._variants):  # newest first, like a history
            self.combo.addItem(f"{v.name}  ·  {v.card.get('method', '-')}  ·  {v.id}", v.id)
        if run_id:
            self.combo.setCurrentIndex(self.combo.findData(run_id))
        self.combo.blockSignals(False)
        self._show(run_id)

    def _show(self, run_id: str | None) -> None:
        selected = self.state.selected_variant
        if selected and selected != run_id:
            self._explain_unfinished(selected)
        else:
            self._set_error("")
        self.export_btn.setEnabled(run_id is not None and not self.is_busy())
        self.folder_btn.setEnabled(run_id is not None)
        self.combo.setPlaceholderText("No finished variants yet")
        if run_id is None:
            self.summary.setText("")
            self.summary.hide()
            self.details.teacher.hide()
            self.stack.setCurrentWidget(self.empty)
            return
        self.summary.show()
        v = self.state.workspace.get(run_id)
        self.runner.show_card(v.card)
        row = variant_row(v)
        notes = [f"<span style='color:#c62828'>files missing: {html.escape(v.missing)}</span>"] \
            if v.missing else []
        notes += [f"<span style='color:#b26a00'>warning: {html.escape(w)}</span>"
                  for w in v.card.get("warnings") or []]
        self.summary.setToolTip(row["method"])
        self.summary.setText(
            f"<b>{html.escape(v.name)}</b> · {html.escape(compact_method(row['method']))} · "
            f"{row['metric']} · "
            f"{row['params']} params ({row['sparsity']} zero)" + "".join(f"<br>{n}" for n in notes)
        )
        self.details.teacher.show_for(v.card, self._variants)
        if not v.card.get("onnx"):
            self.note.hide()
            self.stack.setCurrentWidget(self.not_exported)
            return
        everyone = self.state.workspace.variants()
        compared, kind = comparison_parent(everyone, v)
        parent_card = compared.card if compared else None
        self.note.show_for(v, everyone)
        self.details.show_variant(v, parent_card, kind, self.state.workspace.run_dir(run_id), self._variants)
        self.targets.show_variant(v.id, v.card, self.state.workspace.root)
        self.stack.setCurrentIndex(2)

    def _explain_unfinished(self, selected: str) -> None:
        try:
            v = self.state.workspace.get(selected)
        except KeyError:
            self._set_error("")
            return
        self._set_error(
            f"{v.name} is {v.status}" + (f" ({v.error})" if v.error else "")
            + "; only finished variants can be exported. Showing the newest finished one."
        )

    # -- actions -------------------------------------------------------------------
    def export_selected(self) -> None:
        """Re-export the shown variant as a job (progress, Cancel) on a worker thread."""
        run_id = self.current_id()
        if run_id is None or self.is_busy():
            return
        self._set_error("")
        self.runner.start(self.state.workspace, run_id)

    def _exported(self, _onnx: Any) -> None:
        self.state.variants_changed.emit()  # the card changed: every page re-reads the store

    def _export_cancelled(self) -> None:
        self._set_error("Export cancelled; the previous ONNX file and card are unchanged.")

    def _export_failed(self, message: str) -> None:
        self._set_error(f"Export failed: {message}")

    def _keep_in_fp32(self, step: int, names: list[str]) -> None:
        """Put the layers into the quantize step's exclude_nodes of the recipe being edited."""
        from gui.widgets.apply_exclusion import apply_exclusion

        run_id = self.current_id()
        own = self.state.workspace.get(run_id).recipe if run_id else ""
        recipe, line = apply_exclusion(self.state.recipe, own, step, names)
        if recipe is not None:
            self.state.set_recipe(recipe)
        self.details.node_errors.set_note(line)
        self.keep_in_fp32.emit(names)

    def _set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _on_busy(self, busy: bool) -> None:
        self.export_btn.setEnabled(not busy and self.current_id() is not None)
        self.combo.setEnabled(not busy)

    def is_busy(self) -> bool:
        """Whether an export is running."""
        return self.runner.is_busy()

    def folder_url(self) -> QUrl | None:
        """file:// URL of the shown variant's run folder (what Open folder opens)."""
        run_id = self.current_id()
        if run_id is None:
            return None
        return QUrl.fromLocalFile(str(self.state.workspace.run_dir(run_id)))

    def open_folder(self) -> bool:
        """Open the run folder in the desktop's file manager; without one, show its path."""
        url = self.folder_url()
        if url is None:
            return False
        if QDesktopServices.openUrl(url):
            return True
        self.show_folder_path(url.toLocalFile())
        return False

    def show_folder_path(self, path: str) -> QMessageBox:
        """A message with the folder's path, selectable for copying (no file manager to open it)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Run folder")
        box.setText("No file manager could be opened on this system. The run folder is:")
        box.setInformativeText(path)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.folder_box = box
        box.open()  # window-modal, without blocking the event loop
        return box
