"""Model page: pick or drop a model, load it off the GUI thread, show its anatomy.

The page keeps the loaded model the recipe's: when the current recipe names another model
(File → Open recipe, a page that changes it), the page loads that one, so every page sees
one current model. It also flags at once a model that does not fit the recipe's data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from engine.config_fields import ConfigError
from engine.recipe import DataSpec, ModelSpec, Recipe
from gui.state import AppState, ModelInfo
from gui.threads import BackgroundCall
from gui.widgets.anatomy_chart import AnatomyChart
from gui.widgets.anatomy_fit_banner import FitBanner, fit_fixes
from gui.widgets.anatomy_header import AnatomyHeader
from gui.widgets.anatomy_picker import ModelPicker
from gui.widgets.anatomy_table import AnatomyTable
from gui.widgets.model_options_dialog import OPTION_FIELDS, ModelOptionsDialog

FLOPS_SEQ = 128  # tokens in the one text input the FLOPs are counted for

EMPTY_TEXT = (
    "<h3>No model loaded yet</h3>"
    "<p>Pick a built-in demo model above and press <b>Load built-in</b>,<br>"
    "open a <b>.safetensors / .pt / TorchScript</b> file, a <b>Hugging Face folder</b><br>"
    "or a <b>variant</b> of this workspace, or drop a file or folder anywhere on this page.</p>"
)


@dataclass
class LoadFailure:
    """A load that failed on bad input: shown as one line, no traceback."""

    message: str


def load_and_summarize(spec: ModelSpec, workspace: Any = None) -> tuple[ModelInfo, str] | LoadFailure:
    """(ModelInfo, what the FLOPs were counted on) or LoadFailure; runs on a worker thread."""
    from engine.models.loaders import load_model
    from engine.models.summary import summarize

    try:
        loaded = load_model(spec, workspace=workspace)
    except ConfigError as exc:  # every bad-input error of the loaders is one
        return LoadFailure(str(exc))
    if loaded.is_text:
        seq = min(FLOPS_SEQ, loaded.max_positions)
        inputs, what = loaded.example_inputs(batch=1, seq=seq), f"1×{seq} tokens"
    else:
        inputs = loaded.example_inputs(batch=1)
        what = "×".join(str(d) for d in inputs[0].shape)
    variant = parent = None
    if spec.source == "variant":
        variant = workspace.resolve(spec.path.strip())
        try:
            parent = workspace.get(variant.parent) if variant.parent else None
        except KeyError:  # a deleted parent leaves the child loadable
            parent = None
    info = ModelInfo(loaded, summarize(loaded.module, inputs), spec, variant, parent)
    return info, what


def _field(message: str) -> str:
    """'model.task' from 'model.task: …' (engine errors name their field first)."""
    head, sep, _ = message.partition(": ")
    return head if sep and head.startswith("model.") and " " not in head else ""


def _asks(message: str) -> str:
    """The option field the dialog asks for: the one the error names, or model.task as its fix."""
    field = _field(message)
    if field in OPTION_FIELDS:
        return field
    # "set model.task to causal-lm or classification": the dialog's two tasks ("set model.task:
    # generic" is not one: the dialog cannot offer it, so that message only shows)
    return "model.task" if "set model.task to" in message else ""


class ModelPage(QWidget):
    """Model picker, fit banner, header card, anatomy table and largest-layers chart."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setAcceptDrops(True)
        self._call: BackgroundCall | None = None
        self._request = 0  # only the newest load's result is shown
        self._busy = False
        self._wanted: ModelSpec | None = state.loaded_spec()  # newest spec asked for
        self._flops_input = ""  # set by our own loads; other loaders leave it unknown
        self.options_dialog: ModelOptionsDialog | None = None

        self._granted: set[tuple[str, str]] = set()  # (source, path) the user ticked trust for
        self.picker = ModelPicker()
        self.picker.requested.connect(self._user_request)
        self.picker.list_variants = self._variant_choices
        self.banner = FitBanner()
        self.banner.fix_chosen.connect(self._apply_fix)
        self.header = AnatomyHeader()
        self.table = AnatomyTable()
        self.chart = AnatomyChart()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 290])
        details = QWidget()
        d_layout = QVBoxLayout(details)
        d_layout.setContentsMargins(0, 0, 0, 0)
        d_layout.addWidget(self.header)
        d_layout.addWidget(split, 1)

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #555; border: 2px dashed #bbb; border-radius: 10px;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(details)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        state.model_loaded.connect(self._show)
        state.recipe_changed.connect(self._follow_recipe)
        if state.model_info is not None:
            self._show(state.model_info)

    # -- loading -------------------------------------------------------------------
    def _user_request(self, spec: ModelSpec) -> None:
        # trust in a picker request comes from the user's own tick, so it holds for this model
        if spec.trust:
            self._granted.add((spec.source, spec.path))
        self.load_spec(spec)

    def _effective(self, spec: ModelSpec) -> ModelSpec:
        """`spec` with trust only if the user gave it here: never from a recipe file."""
        if spec.trust and (spec.source, spec.path) not in self._granted:
            return dataclasses.replace(spec, trust=False)
        return spec

    def load_spec(self, spec: ModelSpec) -> None:
        """Load + summarize `spec` on a worker thread; on success it becomes the recipe's model."""
        self._request += 1
        request = self._request
        self._wanted = spec
        self.picker.remember(spec)
        self.picker.show_error("")
        self._busy = True
        self.picker.set_busy(True, f"Loading {Path(spec.path).name or spec.path}…")
        workspace = self.state.workspace
        self._call = BackgroundCall(
            lambda: load_and_summarize(spec, workspace),
            lambda result: self._loaded(request, spec, result),
            lambda message: self._failed(request, spec, message),
        )

    def load_path(self, path: str | Path) -> None:
        """Load a model file or folder, inferring its source kind."""
        self.picker.request_path(path)

    def sync_to_recipe(self) -> None:
        """Load the current recipe's model unless it is the one loaded or being loaded."""
        spec = self._effective(self.state.recipe.model)
        if spec != self._wanted:
            self.load_spec(spec)

    def _follow_recipe(self, _recipe: Recipe) -> None:
        self.sync_to_recipe()
        self._check_fit()

    def _loaded(self, request: int, spec: ModelSpec, result: Any) -> None:
        if request != self._request:
            return
        if isinstance(result, LoadFailure):
            self._failed(request, spec, result.message)
            return
        info, self._flops_input = result
        self._busy = False
        self.picker.set_busy(False)
        self.picker.fill_builtins()  # engine.models is imported now, by this load
        self.picker.show_error("")
        self.picker.show_loaded(spec, info.loaded.description)
        self.state.set_model(info)  # first: recipe_changed listeners then see the new model
        if spec != self.state.recipe.model:  # no recipe_changed churn when reloading the same model
            self.state.set_recipe(self.state.recipe.replace(model=spec))

    def _failed(self, request: int, spec: ModelSpec, message: str) -> None:
        if request != self._request:
            return
        self._busy = False
        self.picker.set_busy(False)
        self.picker.fill_builtins()
        self.picker.show_error(message)
        if spec == self._effective(self.state.recipe.model) and not self.state.model_is_current():
            # the recipe names a model that could not be loaded: no page may show another one
            self.state.set_model(None)
            self.picker.show_loaded(None)
        elif spec != self._effective(self.state.recipe.model):
            self._wanted = self.state.loaded_spec()  # the recipe keeps the model it had
        if _asks(message) and spec.source in ("hf", "safetensors", "torch", "torchscript"):
            self._ask_options(spec, message)

    def _ask_options(self, spec: ModelSpec, message: str) -> None:
        """The small dialog for task / labels / architecture, then the same load again.

        Also when another field's error names model.task as the fix (a tokenizer given for a
        model loaded as generic): the task is asked here, the tokenizer stays in the spec.
        """
        from engine.models.builtin import BUILTIN_MODELS
        from engine.models.hf import folder_hints

        path = Path(spec.path).expanduser()
        folder = path if path.is_dir() else path.parent
        hints = folder_hints(folder) if (folder / "config.json").is_file() else {}
        if not hints.get("num_labels"):  # the folder does not say: size the head for the data
            from engine.data.fit import data_num_labels

            hints = {**hints, "num_labels": data_num_labels(self.state.recipe.data)}
        field = _asks(message)
        reason = message.partition(": ")[2] if _field(message) else message
        dialog = ModelOptionsDialog(spec, reason, field, hints, list(BUILTIN_MODELS), self)
        dialog.accepted.connect(lambda: self.load_spec(dialog.chosen_spec()))
        self.options_dialog = dialog
        dialog.open()

    def is_busy(self) -> bool:
        """True while a load is running (tests wait on this)."""
        return self._busy

    # -- fit with the data ---------------------------------------------------------
    def _check_fit(self) -> None:
        from engine.data.fit import data_fits_model

        info = self.state.model_info
        if info is None or not self.state.model_is_current():
            self.banner.show_problem("", [])
            return
        data = self.state.recipe.data
        reason = data_fits_model(data, info.loaded)
        self.banner.show_problem(reason, fit_fixes(data, info.loaded) if reason else [])

    def _apply_fix(self, spec: DataSpec | ModelSpec) -> None:
        if isinstance(spec, ModelSpec):
            self.load_spec(spec)
        else:
            self.state.set_recipe(self.state.recipe.replace(data=spec))

    def _variant_choices(self) -> list[tuple[str, str]]:
        """(menu text, run id) of the workspace's finished variants, newest first."""
        try:
            variants = self.state.workspace.variants("finished")
        except (OSError, ValueError) as exc:
            self.picker.show_error(f"cannot read the workspace: {exc}")
            return []
        return [(f"{v.name}  ({v.id})", v.id) for v in reversed(variants)]

    # -- display -------------------------------------------------------------------
    def _show(self, info: ModelInfo | None) -> None:
        if info is None:
            self.stack.setCurrentIndex(0)
            self._check_fit()
            return
        rows = list(info.summary.layers)
        flops_input, self._flops_input = self._flops_input or "one input", ""
        spec = info.spec or self.state.recipe.model
        self.header.show_model(info.loaded, info.summary, spec, flops_input)
        self.header.show_lineage(info.variant, info.parent, info.summary)
        self.table.set_rows(rows)
        self.chart.set_rows(rows)
        self.stack.setCurrentIndex(1)
        self._check_fit()

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
