"""Delete, rename and CSV export of variants: the dialogs, and one place that runs them.

The engine (`Workspace.delete` / `rename`, `engine.variants_csv`) does the work and refuses
what must not happen (a running variant, a bad name); these dialogs ask first and show
the engine's one-line reason next to the field.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from engine.store import Variant, Workspace, name_problem
from engine.variants_csv import write_variants_csv

ERROR_COLOR = "#c62828"


class RenameDialog(QDialog):
    """A name field that says at once what is wrong with the name (and keeps OK off until fixed)."""

    def __init__(self, ws: Workspace, variant: Variant, parent: QWidget | None = None):
        super().__init__(parent)
        self.ws, self.variant = ws, variant
        self.setWindowTitle(f"Rename {variant.name}")
        self.field = QLineEdit(variant.name)
        self.field.selectAll()
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"New name for {variant.name} ({variant.id}):"))
        layout.addWidget(self.field)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        # read once: a query per keystroke would be wasted (a taken name is re-checked on OK)
        self._taken = {v.name for v in ws.variants() if v.id != variant.id}
        self.field.textChanged.connect(self._check)
        self._check(self.field.text())

    def _check(self, text: str) -> None:
        taken = text != self.variant.name and text in self._taken
        problem = name_problem(text)
        message = (f"name {problem}" if problem else
                   f"another variant is already named {text!r}; choose another name" if taken else "")
        self.error.setText(message)
        self.error.setVisible(bool(message))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not message and text != self.variant.name)

    def accept(self) -> None:
        """Rename through the engine; its refusal (e.g. the run started meanwhile) stays here."""
        try:
            self.ws.rename(self.variant.id, self.field.text())
        except (ValueError, KeyError, OSError) as exc:
            self.error.setText(str(exc.args[0] if isinstance(exc, KeyError) else exc))
            self.error.show()
            return
        super().accept()


def confirm_delete(parent: QWidget, v: Variant, children: list[str]) -> QMessageBox:
    """The question asked before a delete (returned unshown, so the caller decides how to run it)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Delete variant")
    box.setText(f"Delete {v.name} ({v.id})?")
    more = (f"\n\n{len(children)} variant(s) derived from it ({', '.join(children[:5])}) keep "
            "their own files but lose their parent for comparisons." if children else "")
    box.setInformativeText(f"Its run folder (checkpoint, ONNX file, logs) is removed from disk. "
                           f"This cannot be undone.{more}")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box


class VariantActions(QWidget):
    """Runs delete / rename / export-CSV for a page and reports the result as one line.

    `done(text, ok)` carries the line to show; `changed` fires when the store changed.
    """

    done = Signal(str, bool)
    changed = Signal()

    def __init__(self, ws_getter, parent: QWidget | None = None):
        super().__init__(parent)
        self._ws = ws_getter
        self.hide()  # a helper object with signals, never shown

    def delete(self, v: Variant, ask: bool = True) -> bool:
        """Ask, then delete `v` (row and folder); False when refused or cancelled."""
        if v.status == "running":
            self.done.emit(f"{v.name} is running; cancel it on the Run page before deleting it", False)
            return False
        children = [x.name for x in self._ws().variants() if x.parent == v.id]
        if ask and confirm_delete(self.parentWidget(), v, children).exec() != QMessageBox.StandardButton.Yes:
            return False
        try:
            self._ws().delete(v.id)
        except (ValueError, KeyError, OSError) as exc:
            self.done.emit(f"could not delete {v.name}: {exc}", False)
            return False
        self.done.emit(f"deleted {v.name} ({v.id}) and its run folder", True)
        self.changed.emit()
        return True

    def rename(self, v: Variant) -> bool:
        """Ask for a new name; False when cancelled."""
        if v.status == "running":
            self.done.emit(f"{v.name} is running; rename it once it has finished", False)
            return False
        dialog = RenameDialog(self._ws(), v, self.parentWidget())
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self.done.emit(f"renamed {v.name} to {dialog.field.text()}", True)
        self.changed.emit()
        return True

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Write every variant as CSV to `path` (asked for when None)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.parentWidget(), "Export variants as CSV", str(Path.home() / "variants.csv"),
                "CSV files (*.csv)",
            )
            if not path:
                return None
        variants = self._ws().variants()
        try:
            written = write_variants_csv(variants, path)
        except (ValueError, OSError) as exc:
            self.done.emit(f"could not write the CSV: {exc}", False)
            return None
        self.done.emit(f"wrote {len(variants)} variant(s) to {written}", True)
        return written
