"""The Export page's re-export: a ContextJob with a progress bar, its current step and Cancel.

It calls engine.export_variant exactly as `workbench-cli export` does (same job, same
record: the card's `onnx` and a `history` entry, here `by: gui`), so a cancel keeps the
previous ONNX file and card. The line on the right says when the variant was last exported
and by which verb, read off the card's history.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from engine.store import Workspace
from gui.widgets.context_job import GuiContextJob
from gui.widgets.elided_label import ElidedLabel

STEP_COLOR = "#555"


def last_export_text(card: dict[str, Any]) -> str:
    """'Last exported <when> by <verb>' from the card's history ('' when never re-exported)."""
    exports = [h for h in card.get("history") or [] if isinstance(h, dict)
               and h.get("action") == "export"]
    if not exports:
        return ""
    last = exports[-1]
    when = str(last.get("at") or "")[:16].replace("T", " ")
    return f"Last exported {when} by {last.get('verb') or last.get('by')}"


class ExportRunner(QWidget):
    """Progress bar + step + Cancel while an export runs; the card's last export otherwise."""

    exported = Signal(object)  # the new onnx dict
    failed = Signal(str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.job: GuiContextJob | None = None
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.bar.setMaximumWidth(200)
        self.step = ElidedLabel(mode=Qt.TextElideMode.ElideRight, min_chars=20)  # long log lines
        self.step.setStyleSheet(f"color: {STEP_COLOR};")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the export; the previous ONNX file and card stay as they were")
        self.cancel_btn.clicked.connect(self.cancel)
        self.last = ElidedLabel(mode=Qt.TextElideMode.ElideRight, min_chars=20)
        self.last.setStyleSheet(f"color: {STEP_COLOR};")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.step, 1)
        layout.addWidget(self.cancel_btn)
        layout.addWidget(self.last, 1)
        self._show_busy(False)

    def start(self, ws: Workspace, run_id: str) -> bool:
        """Re-export `run_id` in the background; False when one is already running."""
        if self.job is not None:
            return False
        from engine.export_variant import export_variant

        def work(ctx: Any) -> dict[str, Any]:
            return export_variant(ws, run_id, isolate=True, ctx=ctx, by="gui")

        job = self.job = GuiContextJob("export", work, run_id, f"re-exporting {run_id}", self)
        job.progress.connect(self._on_progress)
        job.log.connect(lambda line: self.step.setText(line[:160]))
        job.finished.connect(self._finish(self.exported.emit))
        job.cancelled.connect(self._finish(lambda _=None: self.cancelled.emit()))
        job.failed.connect(self._finish(self.failed.emit))
        self.window().installEventFilter(self)  # closing the window cancels, then it waits
        self.bar.setValue(0)
        self.step.setText("Exporting to ONNX and checking it in onnxruntime…")
        self._show_busy(True)
        return True

    def cancel(self) -> None:
        """Ask the export to stop (its child process is killed at the next poll)."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_btn.setEnabled(False)
            self.step.setText("Cancelling…")

    def is_busy(self) -> bool:
        return self.job is not None

    def wait(self, ms: int = 60_000) -> bool:
        return self.job.wait(ms) if self.job is not None else True

    def show_card(self, card: dict[str, Any]) -> None:
        """Show when the shown variant was last exported, and by which verb."""
        self.last.setText(last_export_text(card))

    def _finish(self, then: Any) -> Any:
        def end(value: Any = None) -> None:
            self.job = None
            self._show_busy(False)
            then(value)

        return end

    def _on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        if self.job is not None and not self.job.is_cancelling():
            self.step.setText(message)

    def _show_busy(self, busy: bool) -> None:
        self.bar.setVisible(busy)
        self.cancel_btn.setVisible(busy)
        self.cancel_btn.setEnabled(busy)
        self.step.setVisible(busy)
        self.last.setVisible(not busy)
        self.busy_changed.emit(busy)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Cancel a running export when the main window closes (it then waits for the thread)."""
        if event.type() == QEvent.Type.Close and self.job is not None:
            self.cancel()
        return False
