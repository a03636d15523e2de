"""Sensitivity analysis dialog: metric vs sparsity per layer, and per-layer amounts to apply.

The analysis runs as the same ContextJob as `workbench-cli sensitivity`
(engine.sensitivity_store.sensitivity_work, on a worker thread through GuiContextJob):
progress crosses back as a signal, Cancel stops it at the next evaluation, and the finished
scan is stored in the workspace. "Past scans" lists the stored scans of the current model
and shows one again without re-running. Changing the target only re-runs the cheap
proposal, never the analysis. "Apply to form" writes the
proposal into the recipe's first unstructured pruning step through AppState, so the
Optimize page refreshes its forms the same way it does for a loaded recipe file.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.sensitivity import (
    SensitivityResult,
    apply_proposal,
    first_prune_step,
    noise_warning,
    propose_amounts,
)
from engine.sensitivity_store import model_key, scan_result, sensitivity_work
from gui.state import AppState
from gui.widgets.config_form import CAPTION_COLOR, ERROR_COLOR
from gui.widgets.context_job import GuiContextJob
from gui.widgets.sensitivity_controls import SensitivityControls, intro_label
from gui.widgets.sensitivity_history import ScanPicker
from gui.widgets.sensitivity_plot import SensitivityPlot
from gui.widgets.sensitivity_table import WARNING_COLOR, SensitivityTable
from gui.widgets.sensitivity_text import parse_levels, proposal_summary, result_status


class SensitivityPanel(QDialog):
    """Levels + target in, curves + per-layer proposal out; Apply writes the pruning step."""

    progress_changed = Signal(float, str)  # the job's Progress events, on the GUI thread
    applied = Signal(object)  # the recipe with the proposal applied

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.result: SensitivityResult | None = None
        self.proposal: dict[str, float] = {}
        self.call: GuiContextJob | None = None
        self.record: dict[str, Any] | None = None  # the stored scan shown (None: not stored)
        self.setWindowTitle("Sensitivity analysis")
        self.resize(1100, 680)
        self._build()
        self.progress_changed.connect(self._on_progress)
        if parent is not None:
            # the main window waits for background calls when it closes: stop ours first
            parent.window().installEventFilter(self)

    # -- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        intro = intro_label()
        controls = self._build_controls()
        self.picker = ScanPicker()  # a damaged file's line shows as the status
        self.picker.chosen.connect(self.show_record)
        self.picker.problem.connect(lambda text: self._set_status(text, error=True))
        self._build_status()
        split = self._build_results()
        bottom = self._build_bottom()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(intro)
        layout.addWidget(controls)
        layout.addWidget(self.picker)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.noise_label)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def _build_controls(self) -> QWidget:
        """Levels, target sparsity and eval-batches fields with the Analyze and Cancel buttons."""
        row = SensitivityControls(self.state.recipe.train.eval_batches)
        self.levels_edit, self.target_spin = row.levels_edit, row.target_spin
        self.batches_spin, self.run_button = row.batches_spin, row.run_button
        self.cancel_button, self.pause_button = row.cancel_button, row.pause_button
        self.target_spin.valueChanged.connect(lambda _v: self._repropose())
        self.run_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        return row

    def _build_status(self) -> None:
        """The progress bar, the status line and the (hidden) noise warning."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel("Not run yet.")
        self.status.setWordWrap(True)  # a long summary wraps instead of widening the dialog
        self.status.setStyleSheet(f"color: {CAPTION_COLOR};")
        self.noise_label = QLabel("")  # the summary warning when most changes are noise
        self.noise_label.setWordWrap(True)
        self.noise_label.setStyleSheet(f"color: {WARNING_COLOR}; font-weight: bold;")
        self.noise_label.hide()

    def _build_results(self) -> QSplitter:
        """The metric-vs-sparsity plot beside the per-layer table."""
        self.plot = SensitivityPlot()
        self.plot.setMinimumSize(420, 300)
        self.table = SensitivityTable()
        self.plot.hovered.connect(self.table.select_layer)
        self.table.itemSelectionChanged.connect(self._on_row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([640, 460])
        self.table.setMinimumWidth(380)
        return split

    def _build_bottom(self) -> QHBoxLayout:
        """The proposal summary with the Apply and Close buttons."""
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        self.apply_button = QPushButton("Apply to form")
        self.apply_button.setEnabled(False)
        self.apply_button.setToolTip("Set these amounts as the pruning step's per-layer overrides")
        self.apply_button.clicked.connect(self.apply)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.apply_button)
        bottom.addWidget(close)
        return bottom

    # -- running -------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the analysis on the current recipe; False (reason shown) on bad input."""
        if self.call is not None:
            return False
        try:
            levels = parse_levels(self.levels_edit.text())
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return False
        recipe, target, batches = self.state.recipe, self.target, self.batches_spin.value()
        work = sensitivity_work(recipe, tuple(levels), target, batches, self.state.workspace.root, "gui")
        self.call = call = GuiContextJob("sensitivity", work, None, recipe.model.path, self)
        for signal, slot in ((call.progress, self.progress_changed), (call.finished, self._on_done),
                             (call.cancelled, lambda: self._on_failed("")), (call.failed, self._on_failed)):
            signal.connect(slot)
        self._running(True)
        self._set_status(f"Loading {recipe.model.path} and its data…")
        return True

    def toggle_pause(self) -> None:
        """Hold the analysis after the measurement under way, or let a held one go on."""
        if self.call is not None and not self.call.is_cancelling():
            paused = self.call.toggle_pause()
            self.pause_button.setText("Resume" if paused else "Pause")
            self._set_status("Paused after the measurement under way; Resume goes on, Cancel stops."
                             if paused else "Resuming…")

    def cancel(self) -> None:
        """Ask the running analysis to stop at the next evaluation (a paused one too)."""
        if self.call is not None:
            self.call.cancel()
        self.cancel_button.setEnabled(False)
        self.pause_button.setEnabled(False)
        self._set_status("Cancelling…")

    def wait(self, ms: int = 60_000) -> bool:
        """Block until the background analysis (if any) has ended."""
        return self.call.wait(ms) if self.call is not None else True

    def _running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.levels_edit.setEnabled(not running)
        self.batches_spin.setEnabled(not running)
        self.apply_button.setEnabled(not running and self.result is not None)
        self.progress.setValue(0 if running else self.progress.value())

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if self.call is not None and not (self.call.is_cancelling() or self.call.is_paused()):
            self._set_status(f"{fraction:.0%} · {message}")

    def _on_done(self, record: dict[str, Any]) -> None:
        self.call = None
        self._running(False)
        self.show_record(record)
        self.refresh_scans(select=record["id"])

    def refresh_scans(self, select: str | None = None) -> int:
        """List the stored scans of the current recipe's model in the picker."""
        return self.picker.refresh(self.state.workspace.root, model_key(self.state.recipe.model), select)

    def show_record(self, record: dict[str, Any]) -> None:
        """Show a stored scan (new or picked): its curves, target and stored proposal; no re-run."""
        result, proposal, target = scan_result(record)
        with QSignalBlocker(self.target_spin):  # its own proposal, not a recomputed one
            self.target_spin.setValue(target * 100)
        self.levels_edit.setText(", ".join(f"{v:g}" for v in result.levels))
        self.batches_spin.setValue(result.eval_batches or self.batches_spin.value())
        self.show_result(result)
        self.record, self.proposal = record, proposal
        self._show_proposal()
        when = str(record.get("created") or "")[:16].replace("T", " ")
        self._set_status(f"{self.status.text()} · scan {record['id']}, {when} by {record.get('by')}")

    def show_result(self, result: SensitivityResult) -> None:
        """Plot `result` and propose amounts for the current target (also for saved results)."""
        self.result, self.record = result, None
        self.proposal = propose_amounts(result, self.target)
        self.progress.setValue(1000)
        self._set_status(result_status(result))
        warning = noise_warning(result)
        self.noise_label.setText(f"⚠ {warning}" if warning else "")
        self.noise_label.setVisible(bool(warning))
        self.plot.show_result(result)
        self._show_proposal()

    def _on_failed(self, message: str) -> None:
        """The scan failed (message) or was cancelled ('')."""
        self.call = None
        self._running(False)
        self._set_status(f"Failed: {message}" if message else "Cancelled.", error=bool(message))

    # -- proposal ------------------------------------------------------------------------
    @property
    def target(self) -> float:
        """The requested overall sparsity as a fraction."""
        return round(self.target_spin.value() / 100, 4)

    def _repropose(self) -> None:
        if self.result is not None:
            self.proposal = propose_amounts(self.result, self.target)
            self._show_proposal()

    def _show_proposal(self) -> None:
        r = self.result
        if r is None:
            return
        self.table.fill(r, self.proposal, self.plot.colors)
        self.summary.setText(proposal_summary(r, self.proposal))
        self.apply_button.setEnabled(self.call is None)

    def apply(self) -> None:
        """Write the proposal into the recipe's first unstructured pruning step (made if none)."""
        if not self.proposal:
            return
        recipe = apply_proposal(self.state.recipe, self.proposal, self.target)
        self.state.set_recipe(recipe)
        index, _ = first_prune_step(recipe)
        self._set_status(f"Applied to step {index + 1} of the recipe ({len(self.proposal)} overrides).")
        self.applied.emit(recipe)

    # -- plot <-> table ------------------------------------------------------------------
    def _on_row(self) -> None:
        items = self.table.selectedItems()
        self.plot.highlight(items[0].data(Qt.ItemDataRole.UserRole) if items else "")

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR if error else CAPTION_COLOR};")

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """Opening the panel lists the stored scans of the model the recipe now names."""
        self.refresh_scans()
        super().showEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Cancel a running analysis when the main window closes (it then waits for it)."""
        if event.type() == QEvent.Type.Close and self.call is not None:
            self.cancel()
        return False

    def reject(self) -> None:
        """Closing (Esc, Close, the window's x) stops a running analysis and waits for it."""
        if self.call is not None:
            self.cancel()
            self.wait()
        super().reject()
