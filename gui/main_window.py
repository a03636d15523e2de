"""MainWindow: navigation list + page stack, File menu, status bar, remembered layout.

Pages only share `AppState`; the window wires the one cross-page action (Optimize's
Run ▶ starts the Run page's runner) and makes sure no job thread outlives it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QStyle,
    QWidget,
)

from gui import threads
from gui.state import AppState
from gui.widgets.elided_label import ElidedLabel
from gui.widgets.no_wheel import guard_wheel_everywhere
from gui.widgets.page_area import PageArea

PAGE_ICONS = {
    "Model": QStyle.StandardPixmap.SP_ComputerIcon,
    "Profile": QStyle.StandardPixmap.SP_FileDialogInfoView,
    "Optimize": QStyle.StandardPixmap.SP_FileDialogDetailedView,
    "Run": QStyle.StandardPixmap.SP_MediaPlay,
    "Export": QStyle.StandardPixmap.SP_DialogSaveButton,
    "Compare": QStyle.StandardPixmap.SP_FileDialogContentsView,
}
PAGES = tuple(PAGE_ICONS)
NAV_WIDTH = 132
NAV_STYLE = """
QListWidget#nav { background: #f4f5f7; border: none; border-right: 1px solid #dcdfe4; outline: 0; }
QListWidget#nav::item { padding: 10px 8px; border-radius: 6px; margin: 2px 6px; color: #222; }
QListWidget#nav::item:selected { background: #dbe6f6; color: #0b3d91; }
QListWidget#nav::item:hover:!selected { background: #eaecef; }
"""


def default_size(available: QSize) -> QSize:
    """1280 × 800, or less on a smaller screen (a window larger than it hides its right side)."""
    return QSize(min(1280, available.width()), min(800, available.height()))


def app_settings() -> QSettings:
    """The settings store every window uses (tests pass their own)."""
    return QSettings("workbench", "workbench")


class MainWindow(QMainWindow):
    """The workbench window; `shutdown()` cancels a running job and waits for threads."""

    def __init__(
        self,
        state: AppState,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
        defer_pages: bool = False,
    ):
        """defer_pages: show a bare window now and build the pages in `build_pages()` (the
        page modules import torch, which takes seconds; the app shows the window first)."""
        super().__init__(parent)
        self.state = state
        self.settings = settings if settings is not None else app_settings()
        # Asked when closing during a job; tests replace it to avoid a modal dialog.
        self.confirm_cancel: Callable[[], bool] = self._ask_cancel
        self._closed = False
        self.pages: dict[str, QWidget] = {}
        self._pending_page: str | None = None  # asked for before the pages were built
        self.setWindowTitle("Model Optimization Workbench")
        guard_wheel_everywhere()  # scrolling a page never changes a drop-down or number under it
        self._build_body()
        self._build_status()
        self._restore_geometry()
        if not defer_pages:
            self.build_pages()

    def pages_ready(self) -> bool:
        """True once build_pages() has run."""
        return bool(self.pages)

    def build_pages(self) -> None:
        """Create the pages (imports the engine, hence torch) and wire them up."""
        if self.pages:
            return  # built already (a window made with defer_pages=False): no second menu bar
        from gui.pages.compare_page import ComparePage
        from gui.pages.export_page import ExportPage
        from gui.pages.model_page import ModelPage
        from gui.pages.optimize_page import OptimizePage
        from gui.pages.profile_page import ProfilePage
        from gui.pages.run_page import RunPage

        state = self.state
        self.model_page = ModelPage(state)
        self.profile_page = ProfilePage(state)
        self.optimize_page = OptimizePage(state)
        self.run_page = RunPage(state)
        self.export_page = ExportPage(state)
        self.compare_page = ComparePage(state)
        self.runner = self.run_page.runner
        pages = (self.model_page, self.profile_page, self.optimize_page, self.run_page,
                 self.export_page, self.compare_page)  # fmt: skip
        self.pages: dict[str, QWidget] = dict(zip(PAGES, pages, strict=True))  # sidebar order
        self.stack.removeWidget(self.loading)
        self.loading.deleteLater()
        for page in self.pages.values():
            self.stack.addWidget(PageArea(page))
        self.nav.setEnabled(True)
        self.stack.setCurrentIndex(self.nav.currentRow())
        self._build_menu()

        self.optimize_page.run_requested.connect(self.run_page.start)
        state.navigate.connect(self.show_page)
        state.workspace_changed.connect(lambda _ws: self._show_workspace())
        self.runner.running_changed.connect(lambda _r: self._show_running())
        self.runner.paused_changed.connect(lambda _p: self._show_running())
        self._restore_page()
        if self._pending_page:
            self.show_page(self._pending_page)

    # -- building ------------------------------------------------------------------
    def _build_body(self) -> None:
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setStyleSheet(NAV_STYLE)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(NAV_WIDTH)
        font = self.nav.font()
        font.setPointSizeF(font.pointSizeF() + 1)
        self.nav.setFont(font)
        self.stack = QStackedWidget()
        for name in PAGES:
            item = QListWidgetItem(self.style().standardIcon(PAGE_ICONS[name]), name)
            item.setSizeHint(QSize(NAV_WIDTH - 20, 40))
            self.nav.addItem(item)
        self.loading = QLabel("Loading the workbench…")  # until build_pages() replaces it
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading.setStyleSheet("color: #777; font-size: 13pt;")
        self.stack.addWidget(self.loading)
        self.nav.setEnabled(False)
        self.nav.setCurrentRow(0)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (
            ("Open &workspace…", None, self.choose_workspace),
            ("&Open recipe…", QKeySequence.StandardKey.Open, self.choose_recipe),
            ("&Save recipe…", QKeySequence.StandardKey.Save, self.optimize_page.choose_save),
            (None, None, None),
            ("&Quit", QKeySequence.StandardKey.Quit, self.close),
        ):
            if text is None:
                file_menu.addSeparator()
                continue
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        go_menu = self.menuBar().addMenu("&Go")
        for i, name in enumerate(PAGES):
            action = QAction(name, self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, n=name: self.show_page(n))
            go_menu.addAction(action)

    def _build_status(self) -> None:
        self.job_label = QLabel()
        # a long workspace path elides from the left instead of widening the window
        self.workspace_label = ElidedLabel(min_chars=20)
        self.workspace_label.setStyleSheet("color: #555; padding: 0 6px;")
        self.statusBar().addWidget(self.job_label)
        self.statusBar().addPermanentWidget(self.workspace_label, 1)
        self._show_workspace()

    # -- navigation ----------------------------------------------------------------
    def show_page(self, name: str) -> None:
        """Switch to page `name` (one of PAGES)."""
        if name not in PAGES:
            raise ValueError(f"unknown page {name!r}; pages: {', '.join(PAGES)}")
        if not self.pages:  # still building: shown once the pages exist
            self._pending_page = name
            return
        self.nav.setCurrentRow(PAGES.index(name))

    def current_page(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def current_widget(self) -> QWidget:
        """The page shown now (the stack holds each page inside a scroll area)."""
        return self.pages[self.current_page()]

    # -- file menu -----------------------------------------------------------------
    def choose_workspace(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open workspace", str(self.state.workspace.root))
        if path:
            self.open_workspace(path)

    def open_workspace(self, path: str | Path) -> bool:
        """Switch the workspace (refused while a job writes to the current one)."""
        if self.runner.running:
            self.statusBar().showMessage("finish or cancel the running job before switching workspace", 8000)
            return False
        try:
            self.state.set_workspace(path)
        except (OSError, ValueError) as exc:
            self.statusBar().showMessage(f"cannot open workspace: {exc}", 8000)
            return False
        return True

    def choose_recipe(self) -> None:
        from gui.pages.optimize_page import RECIPE_FILTER

        path, _ = QFileDialog.getOpenFileName(self, "Open recipe", "", RECIPE_FILTER)
        if path and self.optimize_page.load_recipe(path):
            self.show_page("Optimize")

    def _show_workspace(self) -> None:
        self.workspace_label.setText(f"Workspace: {self.state.workspace.root}")

    def _show_running(self) -> None:
        running, paused = self.runner.running, self.runner.paused
        what = "paused" if paused else "running"
        self.job_label.setText(f"● {what} {self.state.recipe.name}" if running else "")
        self.job_label.setStyleSheet(("color: #b26a00;" if paused else "color: #2e7d32;") if running else "")

    # -- settings and exit ---------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry, fallback = self.settings.value("window/geometry"), default_size(self.screen().availableGeometry().size())
        # a remembered window too small to use (347 × 213 was seen) opens at the default size
        if geometry is None or not self.restoreGeometry(geometry) or \
                self.width() < fallback.width() // 2 or self.height() < fallback.height() // 2:
            self.resize(fallback)
        window_state = self.settings.value("window/state")
        if window_state is not None:
            self.restoreState(window_state)

    def _restore_page(self) -> None:
        page = self.settings.value("window/page")
        if page in self.pages:
            self.show_page(page)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        if self.pages:
            self.settings.setValue("window/page", self.current_page())
        self.settings.setValue("workspace", str(self.state.workspace.root))
        self.settings.sync()

    def shutdown(self, wait_ms: int = 60000) -> None:
        """Cancel a running job and wait for it and every background call to end."""
        if self.pages and self.runner.running:
            self.runner.cancel()
        if self.pages:
            self.profile_page.cancel()
            self.runner.wait(wait_ms)
            self.profile_page.wait(wait_ms)
        threads.wait_all(wait_ms)

    def _ask_cancel(self) -> bool:
        answer = QMessageBox.question(
            self,
            "A job is running",
            "A job is still running. Cancel it and quit?\n\n"
            "It stops at the next batch and is recorded as cancelled.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.pages and self.runner.running and not self.confirm_cancel():
            event.ignore()
            return
        self.save_settings()
        self.statusBar().showMessage("waiting for the job to stop…")
        self.shutdown()
        self._closed = True
        event.accept()
