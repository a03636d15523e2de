"""The Optimize page's banner: what the steps leave of the model, the model, and the status.

Four one-line rows that never change height (typing must not move the form): the live
estimate (computed off the GUI thread by LiveEstimate), its notes (what a step will do
differently from what was asked, e.g. heads rounded to whole key/value groups, and risky
choices; empty when there are none), the loaded model, and "Ready to run." or the first
problem. The estimate is asked for only when the model or the steps
changed; editing the training or data sections costs nothing.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from gui.widgets.config_form import CAPTION_COLOR, ERROR_COLOR
from gui.widgets.live_estimate import LiveEstimate
from gui.widgets.status_line import StatusLine

NOTE_COLOR = "#8a5a00"  # amber: worth reading before the run, not a problem
BANNER_STYLE = "#estimateBanner { background: #f3f6fb; border: 1px solid #d5deea; border-radius: 6px; }"


class EstimateBanner(QFrame):
    """`estimated(StepsEstimate | None)` fires when a result (or a failure) is shown."""

    estimated = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("estimateBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.estimate_line = StatusLine()
        font = self.estimate_line.font()
        font.setPointSizeF(font.pointSizeF() + 1)
        font.setBold(True)
        self.estimate_line.setFont(font)
        self.note_line = StatusLine()
        self.note_line.setObjectName("estimateNotes")
        self.note_line.setStyleSheet(f"color: {NOTE_COLOR};")
        self.model_line = StatusLine()
        self.model_line.setStyleSheet("color: #555;")
        self.status_line = StatusLine()
        self.status_line.setObjectName("statusLine")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(2)
        for line in (self.estimate_line, self.note_line, self.model_line, self.status_line):
            lay.addWidget(line)
        self.live = LiveEstimate(parent=self)
        self.live.started.connect(self._estimating)
        self.live.ready.connect(self._show)
        self.live.failed.connect(self._failed)
        self._asked: tuple[Any, ...] | None = None  # (module, methods, has_data) last asked
        self._shown: tuple[tuple[Any, ...], Any] | None = None  # (methods, StepsEstimate)

    def set_status(self, text: str, error: bool) -> None:
        """'Ready to run.' (grey) or the first problem (red), on its one line."""
        self.status_line.set_line(text)
        self.status_line.setProperty("error", error)
        self.status_line.setStyleSheet(f"color: {ERROR_COLOR if error else CAPTION_COLOR};")

    def set_model(self, loaded: Any) -> None:
        """Name the loaded model (None: say where to load one); forget the old estimate."""
        module = getattr(loaded, "module", None)
        if module is None:
            self.model_line.set_line("Load a model on the Model page to see a live estimate.")
        else:
            desc = getattr(loaded, "description", "") or type(module).__name__
            self.model_line.set_line(f"Model: {desc}")
        self._asked = self._shown = None

    def request(self, loaded: Any, methods: tuple[Any, ...] | None, has_data: bool | None = None) -> None:
        """Estimate `methods` on the loaded model (debounced; nothing when none of the three
        changed). `has_data`: whether the recipe has data (None: not known)."""
        module = getattr(loaded, "module", None)
        if module is None or methods is None:
            self.live.cancel()
            self._asked = None
            self.show_notes([])
            self._line("Estimate: no model loaded yet" if module is None
                       else "Estimate: once every step is valid", error=False, muted=True)
            if module is None:  # a half-typed value keeps the cards' figures: nothing jumps
                self.estimated.emit(None)
            return
        if self._asked is not None and self._asked[0] is module and self._asked[1:] == (methods, has_data):
            return  # only another section changed: the estimate still holds
        self._asked = (module, methods, has_data)
        example = getattr(loaded, "example_inputs", None)
        self.live.request(module, methods, example, getattr(loaded, "task", "generic"), has_data)

    def estimate_for(self, methods: tuple[Any, ...] | None) -> Any:
        """The estimate shown, if it was computed for exactly these steps (else None)."""
        if self._shown is not None and methods is not None and self._shown[0] == methods:
            return self._shown[1]
        return None

    def _estimating(self) -> None:
        shown = self.estimate_line.full_text() if self._shown is not None else ""
        shown = shown.split("  ·  estimating…")[0]
        self._line(f"{shown}  ·  estimating…" if shown else "Estimating…", error=False, muted=not shown)

    def _show(self, estimate: Any, methods: tuple[Any, ...]) -> None:
        self._shown = (methods, estimate)
        bad = next((s for s in estimate.steps if s.error), None)
        if bad is not None:  # the reason is on the step's card and in the status line
            step = bad.label.split(" · ")[0]
            self._line(f"No estimate: {step} cannot be applied as the steps stand", error=True)
        else:
            self._line(estimate.text(), error=False)
        self.show_notes(estimate.notes() if bad is None and callable(getattr(estimate, "notes", None)) else [])
        self.estimated.emit(estimate)

    def show_notes(self, notes: list[str]) -> None:
        """The estimate's notes on their own line (whole in the tooltip), or an empty line."""
        self.note_line.set_line(("Note: " + "  ·  ".join(notes)) if notes else "")

    def _failed(self, message: str, _methods: tuple[Any, ...]) -> None:
        self._shown = None
        self.show_notes([])
        self._line(f"No estimate: {message}", error=True)
        self.estimated.emit(None)

    def _line(self, text: str, error: bool, muted: bool = False) -> None:
        """The estimate row: red for a problem, grey while there is no figure to show."""
        self.estimate_line.set_line(text)
        color = ERROR_COLOR if error else CAPTION_COLOR if muted else ""
        self.estimate_line.setStyleSheet(f"color: {color};" if color else "")
