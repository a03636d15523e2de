"""Sensitivity analysis dialog: metric vs sparsity per layer, and per-layer amounts to apply.

The analysis (engine.sensitivity.run_sensitivity) runs in a BackgroundCall; progress crosses
back as a signal and Cancel sets a flag the engine checks between evaluations. Changing the
target only re-runs the cheap proposal, never the analysis. "Apply to form" writes the
proposal into the recipe's first unstructured pruning step through AppState, so the
Optimize page refreshes its forms the same way it does for a loaded recipe file.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.sensitivity import (
    DEFAULT_EVAL_BATCHES,
    DEFAULT_LEVELS,
    MAX_AMOUNT,
    SensitivityResult,
    apply_proposal,
    first_prune_step,
    noise_warning,
    propose_amounts,
    run_sensitivity,
)
from gui.state import AppState
from gui.threads import BackgroundCall
from gui.widgets.config_form import CAPTION_COLOR, ERROR_COLOR
from gui.widgets.sensitivity_plot import SensitivityPlot
from gui.widgets.sensitivity_table import WARNING_COLOR, SensitivityTable
from gui.widgets.sensitivity_text import parse_levels, proposal_summary, result_status


class SensitivityPanel(QDialog):
    """Levels + target in, curves + per-layer proposal out; Apply writes the pruning step."""

    progress_changed = Signal(float, str)  # emitted from the worker thread, delivered queued
    applied = Signal(object)  # the recipe with the proposal applied

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.result: SensitivityResult | None = None
        self.proposal: dict[str, float] = {}
        self.call: BackgroundCall | None = None
        self._cancel = threading.Event()
        self.setWindowTitle("Sensitivity analysis")
        self.resize(1100, 680)
        self._build()
        self.progress_changed.connect(self._on_progress)
        if parent is not None:
            # the main window waits for background calls when it closes: stop ours first
            parent.window().installEventFilter(self)

    # -- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        intro = QLabel(
            "Prunes one layer at a time to each level (smallest |w| first), measures the "
            "validation metric, then proposes per-layer amounts that reach the target overall "
            "sparsity while sparing the layers whose metric drops first."
        )
        intro.setWordWrap(True)
        intro.setStyleSheet(f"color: {CAPTION_COLOR};")
        controls = self._build_controls()
        self._build_status()
        split = self._build_results()
        bottom = self._build_bottom()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(intro)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.noise_label)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def _build_controls(self) -> QHBoxLayout:
        """Levels, target sparsity and eval-batches fields with the Analyze and Cancel buttons."""
        self.levels_edit = QLineEdit(", ".join(f"{v:g}" for v in DEFAULT_LEVELS))
        self.levels_edit.setToolTip("Sparsities to try for each layer, comma-separated, in (0, 1]")
        self.target_spin = QDoubleSpinBox()
        self.target_spin.setRange(0.0, MAX_AMOUNT * 100)
        self.target_spin.setSingleStep(5.0)
        self.target_spin.setDecimals(1)
        self.target_spin.setSuffix(" %")
        self.target_spin.setValue(50.0)
        self.target_spin.setToolTip("Overall sparsity over the analysed layers (size-weighted)")
        self.target_spin.valueChanged.connect(lambda _v: self._repropose())
        self.batches_spin = QSpinBox()
        self.batches_spin.setRange(1, 10_000)
        self.batches_spin.setValue(self.state.recipe.train.eval_batches or DEFAULT_EVAL_BATCHES)
        self.batches_spin.setToolTip("Validation batches per measurement: fewer is faster, noisier")
        self.run_button = QPushButton("Analyze ▶")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        controls = QHBoxLayout()
        for text, widget, stretch in (
            ("Levels:", self.levels_edit, 3), ("Target overall sparsity:", self.target_spin, 0),
            ("Eval batches:", self.batches_spin, 0),
        ):  # fmt: skip
            controls.addWidget(QLabel(text))
            controls.addWidget(widget, stretch)
            controls.addSpacing(10)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        return controls

    def _build_status(self) -> None:
        """The progress bar, the status line and the (hidden) noise warning."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel("Not run yet.")
        self.status.setStyleSheet(f"color: {CAPTION_COLOR};")
        self.noise_label = QLabel("")  # the summary warning when most changes are noise
        self.noise_label.setWordWrap(True)
        self.noise_label.setStyleSheet(f"color: {WARNING_COLOR}; font-weight: bold;")
        self.noise_label.hide()

    def _build_results(self) -> QSplitter:
        """The metric-vs-sparsity plot beside the per-layer table."""
        self.plot = SensitivityPlot()
        self.plot.setMinimumSize(420, 300)
        self.plot.hovered.connect(self._select_row)
        self.table = SensitivityTable()
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
        workspace = self.state.workspace.root
        self._cancel.clear()
        self._running(True)
        self._set_status(f"Loading {recipe.model.path} and its data…")

        def work() -> tuple[SensitivityResult, dict[str, float]]:
            return run_sensitivity(recipe, levels, target, batches, self.progress_changed.emit,
                                   self._cancel.is_set, workspace)  # fmt: skip

        self.call = BackgroundCall(work, self._on_done, self._on_failed)
        return True

    def cancel(self) -> None:
        """Ask the running analysis to stop at the next evaluation."""
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self._set_status("Cancelling…")

    def wait(self, ms: int = 60_000) -> bool:
        """Block until the background analysis (if any) has ended."""
        return self.call.wait(ms) if self.call is not None else True

    def _running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.levels_edit.setEnabled(not running)
        self.batches_spin.setEnabled(not running)
        self.apply_button.setEnabled(not running and self.result is not None)
        self.progress.setValue(0 if running else self.progress.value())

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if not self._cancel.is_set():
            self._set_status(f"{fraction:.0%} · {message}")

    def _on_done(self, value: tuple[SensitivityResult, dict[str, float]]) -> None:
        self.call = None
        self._running(False)
        self.show_result(value[0])

    def show_result(self, result: SensitivityResult) -> None:
        """Plot `result` and propose amounts for the current target (also for saved results)."""
        self.result = result
        self.proposal = propose_amounts(result, self.target)
        self.progress.setValue(1000)
        self._set_status(result_status(result))
        warning = noise_warning(result)
        self.noise_label.setText(f"⚠ {warning}" if warning else "")
        self.noise_label.setVisible(bool(warning))
        self.plot.show_result(result)
        self._show_proposal()

    def _on_failed(self, message: str) -> None:
        self.call = None
        self._running(False)
        cancelled = self._cancel.is_set()
        self._set_status("Cancelled." if cancelled else f"Failed: {message}", error=not cancelled)

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

    def _select_row(self, name: str) -> None:
        self.table.select_layer(name)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR_COLOR if error else CAPTION_COLOR};")

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
