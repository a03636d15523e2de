"""Optimize page: build the recipe — method steps, training, data, export — with live checks.

Every form is generated from the engine's config dataclasses and validated with
the engine's own messages. A valid edit updates `state.recipe` at once; an invalid
one disables Run and names the first problem, before anything runs. The estimate of
what the steps reach is computed off the GUI thread once typing pauses.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine.recipe import DataSpec, DeployConfig, ExportConfig, Recipe, TrainConfig
from gui.pages.recipe_files import RECIPE_FILTER, RecipeFileActions  # noqa: F401 (RECIPE_FILTER: re-exported)
from gui.state import AppState
from gui.widgets.browse_button import BrowseButton
from gui.widgets.config_form import ERROR_COLOR, ConfigForm, small_label
from gui.widgets.deepspeed_preview import attach_deepspeed_preview
from gui.widgets.device_hint import attach_device_hint
from gui.widgets.estimate_banner import EstimateBanner
from gui.widgets.form_columns import group_box, scroll_column
from gui.widgets.global_batch import attach_global_batch
from gui.widgets.method_steps import MethodStepList, name_steps
from gui.widgets.no_wheel import guard_wheel_in
from gui.widgets.recipe_flowchart import attach_recipe_flowchart
from gui.widgets.sensitivity_panel import SensitivityPanel
from gui.widgets.split_preview import attach_split_preview
from gui.widgets.teacher_picker import attach_variant_pickers, variant_choices

DATA_FILTER = "Text or labelled data (*.txt *.csv *.jsonl *.json);;All files (*)"


class OptimizePage(RecipeFileActions, QWidget):
    """Recipe editor; `run_requested(Recipe)` asks the Run page to start it."""

    run_requested = Signal(object)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._pushing = False  # True while we set state.recipe ourselves (ignore the echo)
        self._problem = ""  # a load/save failure shown in the status line until the next edit
        self._build()
        self.show_recipe(state.recipe)
        state.recipe_changed.connect(self._on_state_recipe)
        state.model_loaded.connect(lambda _info: self._on_model())
        self._on_model()

    # -- layout --------------------------------------------------------------------
    def _build(self) -> None:
        top = self._build_top()
        self.banner = EstimateBanner()  # estimate, model and status: one fixed line each
        self.banner.estimated.connect(self._show_estimate)
        self.live = self.banner.live
        self.estimate_label = self.banner.estimate_line
        self.model_line = self.banner.model_line
        self.error_label = self.banner.status_line
        self._build_forms()
        columns = self._build_columns(self._build_steps_box())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        self.flowchart = attach_recipe_flowchart(layout, self.state)  # the stages, live
        layout.addLayout(columns, 1)
        guard_wheel_in(self)  # scrolling a form never changes a field under the pointer

    def _build_top(self) -> QHBoxLayout:
        """Recipe name with the Load, Save and Run buttons."""
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("variant name, e.g. gpt-prune50")
        self.name_edit.setToolTip("The name the variant gets in the workspace")
        self.name_edit.textChanged.connect(lambda _t: self._sync())
        icons = self.style()
        self.load_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Load recipe…")
        self.save_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton), "Save recipe…")
        self.run_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Run ▶")
        self.run_button.setDefault(True)
        self.run_button.setMinimumWidth(110)
        self.load_button.clicked.connect(self.choose_load)
        self.save_button.clicked.connect(self.choose_save)
        self.run_button.clicked.connect(self.request_run)
        top = QHBoxLayout()
        top.addWidget(QLabel("Recipe name:"))
        top.addWidget(self.name_edit, 1)
        top.addSpacing(16)
        for b in (self.load_button, self.save_button, self.run_button):
            top.addWidget(b)
        return top

    def _build_forms(self) -> None:
        """The method step list and the train, data and export forms."""
        self.steps = MethodStepList()
        self.steps.changed.connect(self._sync)
        attach_variant_pickers(self.steps, lambda: variant_choices(self.state.workspace))  # teachers
        self.train_form = ConfigForm(TrainConfig, path="train")
        self.data_form = ConfigForm(DataSpec, path="data")
        self.export_form = ConfigForm(ExportConfig, path="export")
        self.deploy_form = ConfigForm(DeployConfig, path="deploy")  # targets checked after a run
        self.forms = (self.train_form, self.data_form, self.export_form, self.deploy_form)
        self.global_batch = attach_global_batch(self.train_form)  # batch × processes × accumulation
        self.device_hint = attach_device_hint(self.train_form)  # GPUs/cores; fills processes
        self.deepspeed_preview = attach_deepspeed_preview(self.train_form)  # its JSON config
        self.split_preview = attach_split_preview(  # model_parallel: blocks per device
            self.train_form, lambda: getattr(self._loaded(), "module", None), self.state.model_loaded)
        for form in self.forms:
            form.changed.connect(lambda _v: self._sync())
        self.data_form.attach(
            "path", BrowseButton(self.set_data_path, DATA_FILTER, "Folder (one sub-folder per label)…")
        )

    def _build_steps_box(self) -> QWidget:
        """The step list under its 'Sensitivity analysis…' row."""
        icons = self.style()
        self.sensitivity_button = QPushButton(
            icons.standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView), "Sensitivity analysis…"
        )
        self.sensitivity_button.setToolTip(
            "Prune one layer at a time, plot the metric, and propose per-layer amounts for the "
            "pruning step"
        )
        self.sensitivity_button.clicked.connect(self.open_sensitivity)
        self.sensitivity_panel: SensitivityPanel | None = None
        steps_box = QWidget()
        steps_col = QVBoxLayout(steps_box)
        steps_col.setContentsMargins(0, 0, 0, 0)
        sens_row = QHBoxLayout()
        sens_row.addWidget(small_label("Not sure how much each layer can take?", "caption"), 1)
        sens_row.addWidget(self.sensitivity_button)
        steps_col.addLayout(sens_row)
        steps_col.addWidget(self.steps)
        return steps_box

    def _build_columns(self, steps_box: QWidget) -> QHBoxLayout:
        """Steps (left) and the training, data and export forms (right), each scrolling."""
        columns = QHBoxLayout()
        columns.setSpacing(16)
        # the method forms are the widest and the reason for the page: they get half of it
        columns.addWidget(scroll_column(group_box("Optimization steps", steps_box)), 1)
        columns.addWidget(
            scroll_column(
                group_box("Training", self.train_form),
                group_box("Data", self.data_form),
                group_box("Export", self.export_form),
                group_box("Deploy targets", self.deploy_form),
            ),
            1,
        )
        return columns

    # -- recipe <-> forms ----------------------------------------------------------
    def show_recipe(self, recipe: Recipe) -> None:
        """Load `recipe` into every form (without pushing it back to the state)."""
        self._pushing = True
        try:
            self.name_edit.setText(recipe.name)
            self.steps.set_steps(recipe.methods)
            for form in self.forms:  # train, data, export, deploy: the recipe's section by path
                form.set_value(getattr(recipe, form.path))
        finally:
            self._pushing = False
        self._sync()

    def current_recipe(self) -> tuple[Recipe | None, list[str]]:
        """(recipe as edited, []) when valid, else (None, every problem, steps named 'Step N')."""
        recipe, errors, _by_step = self._check()
        return recipe, errors

    def _check(self) -> tuple[Recipe | None, list[str], dict[int, list[str]]]:
        """(recipe or None, problems, recipe-level problems of each step by index)."""
        errors = [str(e) for e in Recipe(name=self.name_edit.text()).errors() if e.path == "name"]
        errors += self.steps.errors()
        for form in self.forms:
            errors += form.errors()
        methods = self.steps.values()
        sections = {form.path: form.value() for form in self.forms}
        if errors or methods is None or None in sections.values():
            return None, errors or ["some settings are incomplete"], {}
        recipe = self.state.recipe.replace(name=self.name_edit.text().strip(), methods=methods,
                                           **sections)
        by_step: dict[int, list[str]] = {}
        problems = []
        for e in recipe.errors():  # cross-section checks, the model spec, the order of steps
            step = _step_index(e.path)
            if step is not None:
                by_step.setdefault(step, []).append(e.message)
            problems.append(name_steps(str(e)))
        estimate = self.banner.estimate_for(methods)
        if estimate is not None:
            problems += self.steps.step_problems_from(estimate)
        return (None, problems, by_step) if problems else (recipe, [], by_step)

    def first_error(self) -> str:
        return (self.current_recipe()[1] or [""])[0]

    def _sync(self) -> None:
        if self._pushing:
            return
        self._problem = ""  # an edit supersedes the last load/save message
        recipe = self._refresh()
        self.banner.request(self._loaded(), self.steps.values(), self._has_data())
        if recipe is not None and recipe != self.state.recipe:
            self._pushing = True
            try:
                self.state.set_recipe(recipe)
            finally:
                self._pushing = False

    def _refresh(self) -> Recipe | None:
        """Run/Save enabled, the status line and the steps' problems, from the forms as they are."""
        recipe, errors, by_step = self._check()
        self.steps.show_problems(by_step)
        self.run_button.setEnabled(recipe is not None)
        self.save_button.setEnabled(recipe is not None)
        self.run_button.setToolTip("Run this recipe" if recipe else f"Fix first: {errors[0]}")
        if errors:
            self.banner.set_status(f"Cannot run yet — {errors[0]}", error=True)
        elif self._problem:
            self.banner.set_status(self._problem, error=True)
        else:
            self.banner.set_status("Ready to run.", error=False)
        invalid = any(e.startswith("name") for e in errors)
        self.name_edit.setProperty("invalid", invalid)
        self.name_edit.setStyleSheet(f"border: 1px solid {ERROR_COLOR};" if invalid else "")
        return recipe

    def _on_state_recipe(self, recipe: Recipe) -> None:
        if not self._pushing:
            self.show_recipe(recipe)

    # -- live estimate -------------------------------------------------------------
    def _loaded(self) -> object | None:
        return getattr(self.state.model_info, "loaded", None)

    def _has_data(self) -> bool | None:
        """Whether the data form names data (what data-aware defaults resolve to); None while invalid."""
        data = self.data_form.value()
        return None if data is None else data.source != "none"

    def _on_model(self) -> None:
        self.banner.set_model(self._loaded())
        self.steps.set_model(self._loaded())  # a layer picker shows the model's blocks
        self.banner.request(self._loaded(), self.steps.values(), self._has_data())
        self._refresh()

    def _show_estimate(self, estimate: object | None) -> None:
        """Per-step figures on the cards; a step the estimate could not apply blocks Run."""
        if estimate is None:
            self.steps.clear_estimate()
        else:
            self.steps.show_estimate(estimate)
        self._refresh()

    # -- actions -------------------------------------------------------------------
    def open_sensitivity(self) -> SensitivityPanel:
        """Show the sensitivity analysis panel (one per page, kept with its last result)."""
        if self.sensitivity_panel is None:
            self.sensitivity_panel = SensitivityPanel(self.state, self)
            guard_wheel_in(self.sensitivity_panel)  # its spin boxes change only when focused
        self.sensitivity_panel.show()
        self.sensitivity_panel.raise_()
        return self.sensitivity_panel

    def request_run(self) -> None:
        """Make the edited recipe current, go to the Run page and ask it to start."""
        recipe, errors = self.current_recipe()
        if recipe is None:
            self.banner.set_status(f"Cannot run yet — {errors[0]}", error=True)
            return
        if recipe != self.state.recipe:
            self.state.set_recipe(recipe)
        self.state.navigate.emit("Run")
        self.run_requested.emit(recipe)

    def set_data_path(self, path: str) -> None:
        """Use a data file/folder; a builtin source switches to text or labelled to match."""
        self.data_form.set_field("path", path)
        if (self.data_form.value() or self.state.recipe.data).source == "builtin":
            labelled = Path(path).is_dir() or Path(path).suffix.lower() in (".csv", ".jsonl", ".json")
            self.data_form.set_field("source", "labelled" if labelled else "text")


def _step_index(path: str) -> int | None:
    """1 for 'methods[1]' or 'methods[1].amount'; None for any other field."""
    if not path.startswith("methods["):
        return None
    head = path[len("methods["):].split("]", 1)[0]
    return int(head) if head.isdigit() else None
