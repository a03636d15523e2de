"""A 'Browse…' button for path fields: a file by default, a folder from its menu."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton, QWidget


class BrowseButton(QToolButton):
    """Calls `on_path(path)` with the file or folder the user picked."""

    def __init__(
        self,
        on_path: Callable[[str], None],
        file_filter: str = "All files (*)",
        folder_text: str = "Folder…",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.on_path = on_path
        self.file_filter = file_filter
        self.setText("Browse…")
        self.setToolTip("Choose a file (the arrow offers a folder instead)")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self)
        menu.addAction("File…", self.choose_file)
        menu.addAction(folder_text, self.choose_folder)
        self.setMenu(menu)
        self.clicked.connect(self.choose_file)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", "", self.file_filter)
        if path:
            self.on_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder")
        if path:
            self.on_path(path)
