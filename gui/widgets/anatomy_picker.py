"""Model picker for the Model page: built-in list, open file/folder, and the error/trust row.

The picker only decides *what* to load (a ModelSpec); the page does the loading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QWidget,
)

from engine.recipe import ModelSpec
from gui.widgets.elided_label import ElidedLabel
from gui.widgets.model_more_options import ModelMoreOptions
from gui.widgets.model_source import (  # noqa: F401 (MANIFEST, is_torchscript_archive: re-exported)
    FILE_FILTER,
    MANIFEST,
    infer_source,
    is_torchscript_archive,
    parse_shape,
)
from gui.widgets.picker_messages import on_page, option_field, pointer, split_field


class ModelPicker(QWidget):
    """Emits `requested(spec)` when the user asks for a model; shows busy and error states."""

    requested = Signal(object)  # ModelSpec

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._last_path: Path | None = None  # the file behind the current error (for retries)
        self._trusted: Path | None = None  # the file the user said they trust
        self._last_variant: str | None = None  # the variant behind the current error
        self._last_spec: ModelSpec | None = None  # the newest spec asked for (trust retries it)
        self._shown: str | None = None  # built-in name now loaded (selected once the list fills)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self._build_source_row(grid)
        self.options = ModelMoreOptions()  # tokenizer, class folder, input/weight dtypes
        self.options.committed.connect(self._options_changed)
        self._build_shape_row(grid)
        grid.addWidget(self.options, 2, 1)
        self._build_status_rows(grid)
        self.set_busy(False)
        self.show_error("")

    def _build_source_row(self, grid: QGridLayout) -> None:
        """Row 0: the built-in list and the Load built-in / Open file / Open folder / Variant buttons."""
        # filled once shown: the list lives in engine.models, which imports torch (seconds)
        self.builtin = QComboBox()
        self.builtin.setPlaceholderText("built-in demo models")
        self.builtin.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.builtin.setMinimumContentsLength(16)
        self.list_variants: Callable[[], list[tuple[str, str]]] = lambda: []
        self.load_builtin_btn = QPushButton("Load built-in")
        self.load_builtin_btn.clicked.connect(self._load_builtin)
        self.open_file_btn = QPushButton("Open file…")
        self.open_file_btn.setToolTip("A .safetensors, .pt/.pth/.bin or TorchScript file")
        self.open_file_btn.clicked.connect(self._open_file)
        self.open_folder_btn = QPushButton("Open folder…")
        self.open_folder_btn.setToolTip("A Hugging Face model folder or a workbench checkpoint")
        self.open_folder_btn.clicked.connect(self._open_folder)
        self.variant_btn = QPushButton("Variant")
        self.variant_btn.setToolTip("A model saved in this workspace by a finished run")
        self.variant_menu = QMenu(self.variant_btn)
        self.variant_menu.aboutToShow.connect(self._fill_variant_menu)
        self.variant_btn.setMenu(self.variant_menu)

        row = QHBoxLayout()
        row.addWidget(self.builtin, 1)
        row.addWidget(self.load_builtin_btn)
        row.addSpacing(16)
        row.addWidget(self.open_file_btn)
        row.addWidget(self.open_folder_btn)
        row.addWidget(self.variant_btn)
        grid.addWidget(QLabel("Model:"), 0, 0)
        grid.addLayout(row, 0, 1)

    def _build_shape_row(self, grid: QGridLayout) -> None:
        """Row 1: the input-shape field (generic models) and the drop hint."""
        # generic (non-text) models cannot be run without an example input shape
        self.shape = QLineEdit()
        self.shape.setPlaceholderText("only for non-text models, e.g. 1, 3, 32, 32")
        self.shape.setMinimumWidth(200)
        self.shape.setToolTip("Example input for one forward pass; press Enter to reload the file")
        self.shape.returnPressed.connect(self._retry)
        self.hint = ElidedLabel("…or drop a model file or folder anywhere on this page.",
                                Qt.TextElideMode.ElideRight)
        self.hint.setStyleSheet("color: palette(mid);")
        shape_row = QHBoxLayout()
        shape_row.addWidget(self.shape)
        shape_row.addWidget(self.options.toggle)
        shape_row.addSpacing(16)
        shape_row.addWidget(self.hint, 1)
        grid.addWidget(QLabel("Input shape:"), 1, 0)
        grid.addLayout(shape_row, 1, 1)

    def _build_status_rows(self, grid: QGridLayout) -> None:
        """Rows 3-4: busy bar, status / loaded / error labels, and the trust checkbox."""
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: loading has no measurable progress
        self.busy.setMaximumWidth(160)
        self.busy.setTextVisible(False)
        self.status = ElidedLabel()
        self.current = ElidedLabel()  # what is loaded now, however it was asked for
        self.current.setStyleSheet("color: #2e7d32;")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #c62828; font-weight: bold;")
        self.trust = QCheckBox(
            "Trust this file: I made it myself; allow full unpickling (it can run code) and load it"
        )
        self.trust.setStyleSheet("color: #c62828;")
        self.trust.toggled.connect(self._trust_toggled)
        status_row = QHBoxLayout()
        status_row.addWidget(self.busy)
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.current, 1)
        status_row.addWidget(self.error, 1)
        grid.addLayout(status_row, 3, 1)
        grid.addWidget(self.trust, 4, 1)
        grid.setColumnStretch(1, 1)

    # -- built-in list and variants -----------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        # after the window is painted: the list needs engine.models (torch)
        QTimer.singleShot(0, self._fill_when_idle)

    def _fill_when_idle(self) -> None:
        # a load's worker may be importing engine.models right now; importing the same package
        # from two threads at once can fail, so the page fills the list when that load ends
        if self.busy.isHidden():
            self.fill_builtins()

    def fill_builtins(self) -> None:
        """Fill the built-in list once (imports engine.models, hence torch)."""
        if self.builtin.count():
            return
        from engine.models.builtin import list_builtin_models

        for name, desc in list_builtin_models():
            self.builtin.addItem(f"{name} — {desc}", name)
        self.builtin.setCurrentIndex(-1 if self._shown is None else self.builtin.findData(self._shown))

    def _fill_variant_menu(self) -> None:
        self.variant_menu.clear()
        variants = self.list_variants()
        for label, run_id in variants:
            action = self.variant_menu.addAction(label)
            action.triggered.connect(lambda _=False, r=run_id: self.request_variant(r))
        if not variants:
            self.variant_menu.addAction("No finished variants in this workspace yet").setEnabled(False)

    def request_variant(self, name_or_id: str, trust: bool = False) -> None:
        """Ask for a workspace variant by name or run id (trust: the user ticked the box)."""
        self._last_path = None
        self._last_variant = name_or_id
        self.requested.emit(ModelSpec(source="variant", path=name_or_id, trust=trust))

    # -- requests ------------------------------------------------------------------
    def _load_builtin(self) -> None:
        self._last_path = None
        self.fill_builtins()
        name = self.builtin.currentData()
        if name:
            self.requested.emit(ModelSpec(source="builtin", path=name))
        else:
            self.show_error("choose a built-in model in the list first")

    def _open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model file", "", FILE_FILTER)
        if path:
            self.request_path(path)

    def _open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open model folder")
        if path:
            self.request_path(path)

    def request_path(self, path: str | Path, trust: bool | None = None) -> None:
        """Infer the source kind of a file/folder and ask for it; errors show in red.

        `trust` None keeps an earlier "Trust this file" answer for the same path.
        """
        self._last_path = Path(path)
        self._last_variant = None
        if trust is None:
            trust = self._trusted == self._last_path
        try:
            source = infer_source(path)
            shape = parse_shape(self.shape.text())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if not self._options_ok():
            return
        spec = ModelSpec(source=source, path=str(path), trust=trust, input_shape=shape)
        self.requested.emit(self.options.apply(spec))

    def _options_ok(self) -> bool:
        """False (the panel open on the first bad option, the load not asked) while one is bad."""
        problem = next(iter(self.options.problems().items()), None)
        if problem is not None:
            self.show_error(f"{problem[0]}: {problem[1]}")
        return problem is None

    def _options_changed(self) -> None:
        """An option changed: load the same file or folder again with it (its answers kept)."""
        spec = self._last_spec
        if spec is not None and spec.source not in ("builtin", "variant") and self._options_ok():
            self.requested.emit(self.options.apply(spec))

    def remember(self, spec: ModelSpec) -> None:
        """The spec being loaded, however it was asked for: "Trust this file" retries it."""
        self._last_spec = spec
        self._last_path = None if spec.source in ("builtin", "variant") else Path(spec.path)
        self._last_variant = spec.path if spec.source == "variant" else None
        if self._last_path is not None:  # a recipe's file: its shape and options show here
            self.shape.setText(", ".join(str(d) for d in spec.input_shape or ()))
            self.options.fill(spec)

    def _trust_toggled(self, on: bool) -> None:
        self._trusted = self._last_path if on else None
        if on and self._last_spec is not None:  # the same spec (task, labels…) with trust
            self.requested.emit(dataclasses.replace(self._last_spec, trust=True))

    def _retry(self) -> None:
        if self._last_path is not None:
            self.request_path(self._last_path)

    # -- display -------------------------------------------------------------------
    def show_loaded(self, spec: ModelSpec | None, description: str = "") -> None:
        """Show what is loaded: the built-in list selects it, anything else is named below."""
        self._shown = spec.path if spec is not None and spec.source == "builtin" else None
        if self.builtin.count():
            self.builtin.setCurrentIndex(-1 if self._shown is None else self.builtin.findData(self._shown))
        if spec is None:
            self.current.setText("")
        else:
            # the last two parts: a HF folder is often just "model"
            where = spec.path if spec.source in ("builtin", "variant") else "/".join(Path(spec.path).parts[-2:])
            self.current.setText(f"Loaded: {spec.source} {where}")
            self.current.setToolTip(f"{spec.source}: {spec.path}\n{description}".strip())
        self.current.setVisible(spec is not None and not self.error.text())

    def set_busy(self, busy: bool, text: str = "") -> None:
        """Indeterminate bar + message while a load runs; buttons off so it is not doubled."""
        self.busy.setVisible(busy)
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.current.setVisible(not busy and bool(self.current.text()) and not self.error.text())
        for w in (self.load_builtin_btn, self.open_file_btn, self.open_folder_btn, self.variant_btn,
                  self.trust):
            w.setEnabled(not busy)

    def show_error(self, message: str) -> None:
        """Red one-line error; offers the trust option only for refused pickles.

        An error about a More-options field opens the panel with the reason next to that field.
        """
        field, text = split_field(message)
        option = option_field(field, text)
        if not message:
            self.options.clear_load_errors()
        elif option:
            self.options.reveal(option, on_page(text, where=""))
        flagged = field == "model.input_shape" or "input shape" in text
        if flagged and self._last_path is not None:
            text += " (type it in Input shape and press Enter)"
        wants_trust = field == "model.trust" or "unpickling" in text or "model.trust" in text
        text = pointer(field) if option and option == field else on_page(text)
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self.current.setVisible(not text and bool(self.current.text()) and self.busy.isHidden())
        trusted_here = self._trusted is not None and self._trusted == self._last_path
        # once trusted, the box stays ticked for this file through later errors (e.g. shape)
        self.trust.blockSignals(True)
        self.trust.setChecked(trusted_here)
        self.trust.blockSignals(False)
        self.trust.setVisible(bool(text) and (wants_trust or trusted_here))
        self.shape.setStyleSheet("border: 1px solid #c62828;" if flagged else "")
