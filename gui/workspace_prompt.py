"""When the workspace cannot be opened at start-up: say why, and let the user pick another.

A damaged, foreign, locked or unwritable `workspace.sqlite` must not end the app with a
traceback before a window exists; the user reads the one-line reason and chooses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QSizePolicy, QSpacerItem, QWidget

from engine.store import Workspace, WorkspaceError

CHOOSE = "Choose another folder…"


def ask_for_workspace(problem: str, parent: QWidget | None = None) -> Path | None:
    """Show `problem`; the folder the user picks instead, or None when they quit."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Workspace cannot be opened")
    box.setText("The workspace cannot be opened.")
    box.setInformativeText(problem)
    # the reason is a long path plus the fix: give the text room instead of a narrow column
    grid = box.layout()
    grid.addItem(QSpacerItem(520, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding),
                 grid.rowCount(), 0, 1, grid.columnCount())
    choose = box.addButton(CHOOSE, QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(choose)
    box.exec()
    if box.clickedButton() is not choose:
        return None
    folder = QFileDialog.getExistingDirectory(parent, "Choose a workspace folder")
    return Path(folder) if folder else None


def open_workspace_interactively(
    path: str | Path, ask: Callable[[str], Path | None] = ask_for_workspace
) -> tuple[Workspace | None, str]:
    """(workspace, '') once one opens; (None, last problem) when the user gives up."""
    problem = ""
    current: Path | None = Path(path)
    while current is not None:
        try:
            return Workspace(current), ""
        except WorkspaceError as exc:
            problem = str(exc)
        current = ask(problem)
    return None, problem
