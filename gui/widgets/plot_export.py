"""Save any pyqtgraph plot of the GUI as an image (PNG) or its data (CSV), one helper for all.

`add_plot_export(plot, name)` gives a plot a small save button in its top-right corner and
the same two entries in its right-click menu: "Save image (PNG)…" (pyqtgraph's
ImageExporter: the plot as drawn, at its size on screen) and "Save data (CSV)…"
(pyqtgraph's CSVExporter: every curve's and scatter's x and y as set, not the downsampled
view). Bar charts (BarGraphItem, which CSVExporter skips) and plots whose points mean
more than x/y (variant names, layer names) pass `data`, a function returning (header, rows)
from what the widget holds. The suggested file name is `name` (e.g. "run-loss.png").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsOpacityEffect,
    QMenu,
    QMessageBox,
    QStyle,
    QToolButton,
)

TableFn = Callable[[], tuple[list[str], list[list[Any]]]]
PNG_TEXT, CSV_TEXT = "Save image (PNG)…", "Save data (CSV)…"
BUTTON_TIP = "Save this plot: image (PNG) or its data (CSV); also on right-click"
_last_folder: list[Path] = []  # where the user saved last (dialogs open there again)


def file_stem(name: str) -> str:
    """'Loss / val' -> 'loss-val': a name safe for a file on every system."""
    return re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-.") or "plot"


def write_table(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """A CSV file with a header row (what the data functions of bar charts return)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


class CurvesCSV(pg_exporters.CSVExporter):
    """pyqtgraph's CSVExporter without empty items and items marked `csv_skip` (a step curve's
    corners, drawn for looks: its measured points are written instead)."""

    def _exportPlotDataItem(self, item: Any) -> None:  # noqa: N802 (pyqtgraph's name)
        data = item.getOriginalDataset() if hasattr(item, "getOriginalDataset") else item.getData()
        if getattr(item, "csv_skip", False) or data[0] is None or len(data[0]) == 0:
            return None
        return super()._exportPlotDataItem(item)


class PlotExport(QObject):
    """The save button and menu entries of one plot; `save_png`/`save_csv` do the writing."""

    def __init__(self, plot: pg.PlotWidget, name: str | Callable[[], str], data: TableFn | None = None,
                 corner: str = "right"):
        super().__init__(plot)
        self.plot, self._name, self.data, self.corner = plot, name, data, corner
        self.menu = QMenu(plot)
        self.menu.addAction(PNG_TEXT, self.ask_png)
        self.menu.addAction(CSV_TEXT, self.ask_csv)
        self.button = self._button()
        vb = plot.getPlotItem().getViewBox()
        if vb.menu is not None:  # pyqtgraph's own right-click menu: our entries at its end
            vb.menu.addSeparator()
            vb.menu.addAction(PNG_TEXT, self.ask_png)
            vb.menu.addAction(CSV_TEXT, self.ask_csv)
        else:  # a plot without pyqtgraph's menu: right-click shows just ours
            plot.scene().sigMouseClicked.connect(self._clicked)
        plot.installEventFilter(self)

    def _button(self) -> QToolButton:
        button = QToolButton(self.plot)
        button.setIcon(self.plot.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        button.setAutoRaise(True)
        button.setFixedSize(20, 20)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setToolTip(BUTTON_TIP)
        button.setAccessibleName("Save plot")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setMenu(self.menu)
        button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        self._faded = QGraphicsOpacityEffect(button)  # present but quiet until pointed at
        self._faded.setOpacity(0.6)
        button.setGraphicsEffect(self._faded)
        button.installEventFilter(self)
        self._place()
        return button

    @property
    def name(self) -> str:
        return self._name() if callable(self._name) else self._name

    def _place(self) -> None:
        if hasattr(self, "button"):
            x = 2 if self.corner == "left" else self.plot.width() - self.button.width() - 2
            self.button.move(x, 2)
            self.button.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if obj is self.plot and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place()
        elif obj is self.button and event.type() in (QEvent.Type.Enter, QEvent.Type.Leave):
            self._faded.setOpacity(1.0 if event.type() == QEvent.Type.Enter else 0.6)
        return False

    def _clicked(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.RightButton and not ev.isAccepted():
            ev.accept()
            self.menu.popup(QPoint(int(ev.screenPos().x()), int(ev.screenPos().y())))

    # -- writing --------------------------------------------------------------------
    def save_png(self, path: str | Path) -> Path:
        """The plot as drawn, at its on-screen size, to `path` (OSError when it cannot be written)."""
        path = Path(path)
        exporter = pg_exporters.ImageExporter(self.plot.getPlotItem())
        exporter.export(str(path))
        if not path.is_file():
            raise OSError(f"could not write {path}")
        return path

    def save_csv(self, path: str | Path) -> Path:
        """The plot's data to `path`: the widget's table, else every curve's x,y (CSVExporter)."""
        path = Path(path)
        if self.data is not None:
            header, rows = self.data()
            write_table(path, header, rows)
        else:
            CurvesCSV(self.plot.getPlotItem()).export(str(path))
        return path

    # -- asking where ----------------------------------------------------------------
    def ask_png(self) -> Path | None:
        return self._ask("Save plot image", "png", "PNG image (*.png)", self.save_png)

    def ask_csv(self) -> Path | None:
        return self._ask("Save plot data", "csv", "CSV table (*.csv)", self.save_csv)

    def _ask(self, title: str, ext: str, filt: str, save: Callable[[Path], Path]) -> Path | None:
        """A save dialog at the last folder with '<name>.<ext>' filled in; a failure in one line."""
        folder = _last_folder[0] if _last_folder else Path.home()
        chosen, _ = QFileDialog.getSaveFileName(self.plot, title, str(folder / f"{file_stem(self.name)}.{ext}"), filt)
        if not chosen:
            return None
        path = Path(chosen) if Path(chosen).suffix else Path(chosen).with_suffix(f".{ext}")
        try:
            save(path)
        except (OSError, ValueError) as e:
            QMessageBox.warning(self.plot, title, f"Could not save {path.name}: {e}. Pick another folder.")
            return None
        _last_folder[:] = [path.parent]
        return path


def add_plot_export(plot: pg.PlotWidget, name: str | Callable[[], str], data: TableFn | None = None,
                    corner: str = "right") -> PlotExport:
    """Give `plot` its save button (top `corner`: "left" where a legend holds the top right)
    and right-click entries; kept as `plot.plot_export`."""
    export = PlotExport(plot, name, data, corner)
    plot.plot_export = export  # type: ignore[attr-defined]  (tests and pages reach it here)
    return export


def plot_export_of(plot: pg.PlotWidget) -> PlotExport | None:
    """The PlotExport attached to `plot`, if any."""
    return getattr(plot, "plot_export", None)
