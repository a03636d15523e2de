"""Model page: pick or drop a model, load it off the GUI thread, show its anatomy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from engine.recipe import ModelSpec
from gui.state import AppState, ModelInfo
from gui.threads import BackgroundCall
from gui.widgets.anatomy_chart import AnatomyChart
from gui.widgets.anatomy_header import AnatomyHeader
from gui.widgets.anatomy_picker import ModelPicker
from gui.widgets.anatomy_table import AnatomyTable

FLOPS_SEQ = 128  # tokens in the one text input the FLOPs are counted for

EMPTY_TEXT = (
    "<h3>No model loaded yet</h3>"
    "<p>Pick a built-in demo model above and press <b>Load built-in</b>,<br>"
    "open a <b>.safetensors / .pt / TorchScript</b> file or a <b>Hugging Face folder</b>,<br>"
    "or drop a file or folder anywhere on this page.</p>"
)


def load_and_summarize(spec: ModelSpec) -> tuple[Any, Any, str]:
    """(LoadedModel, ModelSummary, what the FLOPs were counted on); runs on a worker thread."""
    from engine.models.loaders import load_model
    from engine.models.summary import summarize

    loaded = load_model(spec)
    if loaded.is_text:
        seq = min(FLOPS_SEQ, loaded.max_positions)
        inputs, what = loaded.example_inputs(batch=1, seq=seq), f"1×{seq} tokens"
    else:
        inputs = loaded.example_inputs(batch=1)
        what = "×".join(str(d) for d in inputs[0].shape)
    return loaded, summarize(loaded.module, inputs), what


class ModelPage(QWidget):
    """Model picker, header card, anatomy table and largest-layers chart."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setAcceptDrops(True)
        self._call: BackgroundCall | None = None
        self._request = 0  # only the newest load's result is shown
        self._busy = False
        self._flops_input = ""  # set by our own loads; other loaders leave it unknown

        self.picker = ModelPicker()
        self.picker.requested.connect(self.load_spec)
        self.header = AnatomyHeader()
        self.table = AnatomyTable()
        self.chart = AnatomyChart()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 480])
        details = QWidget()
        d_layout = QVBoxLayout(details)
        d_layout.setContentsMargins(0, 0, 0, 0)
        d_layout.addWidget(self.header)
        d_layout.addWidget(split, 1)

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: #555; border: 2px dashed #bbb; border-radius: 10px;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(details)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.stack, 1)
        state.model_loaded.connect(self._show)
        if state.model_info is not None:
            self._show(state.model_info)

    # -- loading -------------------------------------------------------------------
    def load_spec(self, spec: ModelSpec) -> None:
        """Load + summarize `spec` on a worker thread; on success it becomes the recipe's model."""
        self._request += 1
        request = self._request
        self.picker.show_error("")
        self._busy = True
        self.picker.set_busy(True, f"Loading {Path(spec.path).name or spec.path}…")
        self._call = BackgroundCall(
            lambda: load_and_summarize(spec),
            lambda result: self._loaded(request, spec, result),
            lambda message: self._failed(request, message),
        )

    def load_path(self, path: str | Path) -> None:
        """Load a model file or folder, inferring its source kind."""
        self.picker.request_path(path)

    def _loaded(self, request: int, spec: ModelSpec, result: tuple[Any, Any, str]) -> None:
        if request != self._request:
            return
        loaded, summary, self._flops_input = result
        self._busy = False
        self.picker.set_busy(False)
        self.picker.show_error("")
        if spec.source == "builtin":  # the picker shows what is loaded, however it was asked for
            self.picker.builtin.setCurrentIndex(max(0, self.picker.builtin.findData(spec.path)))
        if spec != self.state.recipe.model:  # no recipe_changed churn when reloading the same model
            self.state.set_recipe(self.state.recipe.replace(model=spec))
        self.state.set_model(ModelInfo(loaded, summary))  # -> _show via model_loaded

    def _failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self._busy = False
        self.picker.set_busy(False)
        self.picker.show_error(message)

    def is_busy(self) -> bool:
        """True while a load is running (tests wait on this)."""
        return self._busy

    # -- display -------------------------------------------------------------------
    def _show(self, info: ModelInfo) -> None:
        rows = list(info.summary.layers)
        flops_input, self._flops_input = self._flops_input or "one input", ""
        self.header.show_model(info.loaded, info.summary, self.state.recipe.model, flops_input)
        self.table.set_rows(rows)
        self.chart.set_rows(rows)
        self.stack.setCurrentIndex(1)

    # -- drag and drop -------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.load_path(urls[0].toLocalFile())
