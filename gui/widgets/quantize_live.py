"""The Run page's Quantization tab: an int8 step as it happens.

Fed with engine events (`on_event`): CalibrationProgress moves the bar (samples onnxruntime
has read for static calibration, then the samples of the per-node error pass), NodeErrors
fills the same per-node SQNR chart the Export page shows as soon as the errors exist, and
each ExclusionStep adds a row to the chart's exclusion table. Nothing here is read from the
card: the card only exists when the job has finished.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QProgressBar, QScrollArea, QVBoxLayout, QWidget

from engine.events import CalibrationProgress, ExclusionStep, NodeErrors
from gui.widgets.node_error_chart import NodeErrorChart

WAITING = ("Quantization runs after the ONNX export: static steps calibrate on training "
           "samples first, then each quantized node's error is measured and shown here.")  # fmt: skip
CHART_HINT = "The per-node error chart appears here as soon as the errors are measured."
PHASE_WORDS = {
    "calibration": "calibration: {done}/{total} training samples read by onnxruntime",
    "node-error": "per-node error: {done}/{total} samples run through fp32 and int8",
}


def phase_text(ev: CalibrationProgress) -> str:
    """'calibration: 24/64 training samples read by onnxruntime' (and which search candidate)."""
    text = PHASE_WORDS.get(ev.phase, ev.phase + ": {done}/{total}").format(done=ev.done, total=ev.total)
    if ev.phase == "calibration" and ev.attempt > 1:  # the search's candidates, the final file
        text += f" (re-quantizing with nodes kept in fp32, pass {ev.attempt})"
    return text


class QuantizeLivePanel(QScrollArea):
    """Progress of the current phase, a line per finished phase, the per-node error chart."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps: dict[int, tuple[str, str]] = {}  # step -> (artifact kind, method words)
        self.records: dict[int, dict[str, Any]] = {}  # step -> the chart's artifact dict
        self.done_lines: dict[tuple[int, str], str] = {}  # (step, phase) -> its last words
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 8)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.phase = QLabel(WAITING)
        self.phase.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(12)
        self.finished = QLabel()  # what each phase read, once it is over
        self.finished.setStyleSheet("color: #555;")
        self.finished.setWordWrap(True)
        self.hint = QLabel(CHART_HINT)
        self.hint.setStyleSheet("color: #555;")
        self.hint.setWordWrap(True)
        self.chart = NodeErrorChart()
        self._hide_keep_row()
        self.chart.hide()
        for w in (self.heading, self.phase, self.bar, self.finished, self.hint):
            layout.addWidget(w)
        layout.addWidget(self.chart, 1)
        layout.addStretch(0)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.reset()

    def _hide_keep_row(self) -> None:
        """The Keep-N-worst row edits a recipe: that is the Export page's job, on a finished
        card; here the chart only watches (its 'N:' label has no name, hence the text)."""
        self.chart.keep_btn.hide()
        self.chart.count.hide()
        for label in self.chart.findChildren(QLabel):
            if label.text() == "N:":
                label.hide()

    def set_steps(self, steps: list[tuple[int, str, str]]) -> None:
        """The recipe's int8 steps: (1-based step, artifact kind, what the step does)."""
        self.steps = {step: (kind, label) for step, kind, label in steps}
        names = "; ".join(f"step {s} · {label}" for s, (_k, label) in sorted(self.steps.items()))
        self.heading.setText(f"<b>Quantization</b> — {names}" if names else "<b>Quantization</b>")

    def reset(self) -> None:
        """A new run: nothing measured yet."""
        self.records.clear()
        self.done_lines.clear()
        self.phase.setText(WAITING)
        self.phase.show()
        self.bar.setValue(0)
        self.bar.show()
        self.finished.setText("")
        self.finished.hide()
        self.hint.setText(CHART_HINT)
        self.hint.show()
        self.chart.hide()

    def finish(self, status: str) -> None:
        """The job ended: the finished phases stay, the live bar goes."""
        if not self.done_lines and not self.records:
            self.phase.setText("The job ended before quantizing." if status != "finished" else
                               "No per-node error was measured (see the log).")  # fmt: skip
            return
        self.bar.hide()
        self.phase.setVisible(status != "finished")
        self.phase.setText(f"The job {status} while quantizing; the last numbers are below.")
        if self.chart.isHidden():  # the analysis failed or had nothing to run on
            self.hint.setText("No per-node error was measured for this file (the log says why).")

    def on_event(self, ev: object) -> bool:
        """Take an event; True when it was one of the quantize step's."""
        if isinstance(ev, CalibrationProgress):
            self._progress(ev)
        elif isinstance(ev, NodeErrors):
            self._record(ev.step)["summary"]["node_errors"] = list(ev.errors)
            self._redraw()
        elif isinstance(ev, ExclusionStep):
            self._add_round(ev)
        else:
            return False
        return True

    def _step_words(self, step: int) -> str:
        return f"Step {step}" if len(self.steps) > 1 or step not in self.steps else ""

    def _progress(self, ev: CalibrationProgress) -> None:
        prefix = self._step_words(ev.step)
        text = phase_text(ev)
        self.phase.setText(f"{prefix} · {text}" if prefix else text[:1].upper() + text[1:])
        self.bar.setValue(int(1000 * ev.done / ev.total) if ev.total else 1000)
        if ev.total and ev.done >= ev.total and ev.attempt == 1:
            self.done_lines[(ev.step, ev.phase)] = "✔ " + (f"{prefix} " if prefix else "") + text
            self.finished.setText("  ·  ".join(self.done_lines.values()))
            self.finished.show()

    def _record(self, step: int) -> dict[str, Any]:
        kind, label = self.steps.get(step, ("onnx-int8", f"step {step}"))
        return self.records.setdefault(step, {"kind": kind, "method": label, "step": step, "summary": {}})

    def _add_round(self, ev: ExclusionStep) -> None:
        summary = self._record(ev.step)["summary"]
        search = summary.setdefault("exclusion", {"steps": [], "met": False})
        search["steps"].append({"excluded": list(ev.excluded), "metrics": dict(ev.metrics),
                                "size_bytes": ev.size_bytes, "met": ev.met})  # fmt: skip
        search["met"] = search["met"] or ev.met
        n = len(ev.excluded)
        search["message"] = (f"{ev.goal} met with {n} node(s) kept in fp32" if ev.met
                             else f"searching for {ev.goal}: round {ev.round} missed it")  # fmt: skip
        self._redraw()

    def _redraw(self) -> None:
        """The chart shows the steps that have rows (its picker when there are several)."""
        shown = [r for r in self.records.values() if r["summary"].get("node_errors")]
        if not shown:
            return
        index = self.chart.picker.currentIndex()
        self.chart.show_card({"artifacts": shown})
        if 0 < index < len(shown):  # keep the file the user picked
            self.chart.picker.setCurrentIndex(index)
        self.chart.show()
        self.hint.hide()
