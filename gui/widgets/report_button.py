"""The Compare page's "Report…" button: the HTML report `workbench-cli report` writes.

Its menu offers the selected variant, the selected variant with its parent, or every variant
in the workspace. The report is written on a worker thread (reading cards, drawing plots and
rendering take a second or more; the GUI stays live) into the workspace's reports/ folder,
with the same function as the CLI (engine.compare.report_html.write_report). When it is done
a message box says where it went and offers to open it in the browser.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton, QWidget

from engine.store import Variant
from gui.state import AppState
from gui.threads import BackgroundCall

REPORTS_DIR = "reports"  # under the workspace folder


def report_path(folder: Path, variants: Sequence[Variant]) -> Path:
    """reports/<name>-<time>.html: the one variant's name, else 'variants-<n>'."""
    stem = variants[0].name if len(variants) == 1 else f"variants-{len(variants)}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "report"
    return folder / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.html"


class ReportButton(QPushButton):
    """`done(text, ok)` carries the one-line outcome for the page's message line."""

    done = Signal(str, bool)

    def __init__(self, state: AppState, selected: Callable[[], Variant | None],
                 parent: QWidget | None = None):
        super().__init__("Report…", parent)
        self.state = state
        self.selected = selected
        self.folder: Path | None = None  # None: <workspace>/reports
        self.last_path: Path | None = None
        self.box: QMessageBox | None = None
        self._call: BackgroundCall | None = None
        self.setToolTip("Write a self-contained HTML report (cards, recipes, flowcharts, lineage, "
                        "target checks, plots, environment) and open it in the browser")
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self._fill_menu)

    def choices(self) -> list[tuple[str, list[Variant]]]:
        """(menu text, variants) for what can be reported now."""
        variants = self.state.workspace.variants()
        out = []
        v = self.selected()
        if v is not None:
            out.append((f"Selected variant: {v.name}", [v]))
            parent = next((p for p in variants if p.id == v.parent), None)
            if parent is not None:
                out.append((f"{v.name} and its parent {parent.name}", [parent, v]))
        if variants:
            out.append((f"All {len(variants)} variants", variants))
        return out

    def _fill_menu(self) -> None:
        menu = self.menu()
        menu.clear()
        for text, variants in self.choices():
            menu.addAction(text, lambda vs=variants: self.write(vs))
        if menu.isEmpty():
            menu.addAction("No variants yet").setEnabled(False)

    def write(self, variants: Sequence[Variant], out: Path | None = None) -> None:
        """Write the report on `variants` on a worker thread (ignored while one is running)."""
        if self.is_busy() or not variants:
            return
        from engine.compare.report_html import write_report

        ws = self.state.workspace
        path = out or report_path(self.folder or ws.root / REPORTS_DIR, variants)
        chosen = list(variants)
        self.setEnabled(False)
        self.setText("Writing report…")
        self.done.emit("Writing the report…", True)
        self._call = BackgroundCall(lambda: write_report(ws, chosen, path), self._written,
                                    self._failed)

    def is_busy(self) -> bool:
        return self._call is not None

    def _reset(self) -> None:
        self._call = None
        self.setEnabled(True)
        self.setText("Report…")

    def _written(self, path: Any) -> None:
        self._reset()
        self.last_path = Path(path)
        self.done.emit("Report written", True)  # short: the path is in the box (the row is narrow)
        self.box = box = QMessageBox(QMessageBox.Icon.Information, "Report written",
                                     f"The report was written to\n{self.last_path}", parent=self)
        open_btn = box.addButton("Open in browser", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        open_btn.clicked.connect(self.open_report)
        box.open()  # not exec(): the page stays usable while the box is up

    def _failed(self, message: str) -> None:
        self._reset()
        self.done.emit(f"Report not written: {message}", False)

    def open_report(self) -> bool:
        """Open the last report in the desktop's browser."""
        if self.last_path is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_path)))
