"""Horizontal bar chart of the largest layers by parameter count."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.widgets.anatomy_table import fmt_count
from gui.widgets.elided_label import ElidedLabel
from gui.widgets.layer_names import short_layer_name
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import anatomy_table

TOP_N = 15
TICK_CHARS = 22
BAR_COLOR = "#4a7fc1"


def short_name(name: str, limit: int = 26) -> str:
    """The informative tail of a long dotted name, cut at dots: '…layer.0.attention.self.query'."""
    name = name or "(root)"
    if len(name) <= limit:
        return name
    parts = name.split(".")
    tail = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + 1 + len(tail) + 1 > limit:
            break
        tail = f"{part}.{tail}"
    return "…" + tail if len(tail) < limit else "…" + name[-(limit - 1) :]


def common_prefix(names: list[str]) -> str:
    """The dotted prefix all names share ('model.bert.'), which says nothing on a chart."""
    split = [n.split(".") for n in names if n]
    if len(split) < 2:
        return ""
    shared: list[str] = []
    for parts in zip(*(p[:-1] for p in split), strict=False):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    return ".".join(shared) + "." if shared else ""


def top_layers(rows: list[Any], n: int = TOP_N) -> list[Any]:
    """The n rows with most parameters, largest first (ties keep model order)."""
    return sorted((r for r in rows if r.params > 0), key=lambda r: -r.params)[:n]


class CountAxis(pg.AxisItem):
    """Axis ticks as 200k / 1.5M instead of 1e+06."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for v in values:
            for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
                if abs(v) >= div:
                    out.append(f"{v / div:g}{unit}")
                    break
            else:
                out.append(f"{v:g}")
        return out


class AnatomyChart(QWidget):
    """pyqtgraph bars, largest at the top, with layer names on the left axis."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": CountAxis("bottom")})
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.title = ElidedLabel("", Qt.TextElideMode.ElideRight)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title.setStyleSheet("color: #333; font-weight: 600;")
        self.subtitle = ElidedLabel("", Qt.TextElideMode.ElideLeft)
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle.setStyleSheet("color: #777;")
        self._title(prefix="")
        self.plot.getAxis("bottom").setLabel("parameters")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#333")
            self.plot.getAxis(axis).setPen("#888")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.bars: pg.BarGraphItem | None = None
        self._labels: list[pg.TextItem] = []
        self.names: list[str] = []
        self._counts: list[int] = []
        self.plot.scene().sigMouseMoved.connect(self._hover)
        add_plot_export(self.plot, "largest layers by parameters", data=lambda: anatomy_table(self))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.plot, 1)

    def _title(self, prefix: str) -> None:
        # a Qt label, not the plot's title: a plot title adds its width to the axis's and so
        # makes the plot wider than its widget (clipped on a narrow window)
        self.title.setText(f"Largest {TOP_N} layers by parameters")
        self.subtitle.setText(f"names inside {prefix.rstrip('.')}" if prefix else "")
        self.subtitle.setVisible(bool(prefix))

    def set_rows(self, rows: list[Any]) -> None:
        """Redraw from a summary's LayerRows."""
        top = top_layers(rows)
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.names = [r.name for r in top]
        self._counts = [r.params for r in top]
        if not top:
            return
        # row 0 (largest) drawn at the top: y runs downward through the list
        ys = list(range(len(top)))[::-1]
        self.bars = pg.BarGraphItem(
            x0=0, y=ys, height=0.7, width=[r.params for r in top], brush=BAR_COLOR, pen=None
        )
        self.plot.addItem(self.bars)
        for item in self._labels:
            self.plot.removeItem(item)
        # counts at the bar ends keep small layers readable next to a huge embedding
        self._labels = []
        longest = max(r.params for r in top)
        for y, r in zip(ys, top, strict=True):
            inside = r.params > 0.7 * longest  # long bars carry their label inside, in white
            label = pg.TextItem(
                fmt_count(r.params), color="w" if inside else "#333", anchor=(1 if inside else 0, 0.5)
            )
            label.setPos(r.params, y)
            self.plot.addItem(label)
            self._labels.append(label)
        prefix = common_prefix([r.name for r in top])
        # abbreviated and cut from the left: the end of a name tells layers apart (full on hover)
        ticks = [(y, short_layer_name(r.name.removeprefix(prefix) or "(root)", TICK_CHARS))
                 for y, r in zip(ys, top, strict=True)]
        self.plot.getAxis("left").setTicks([ticks, []])
        self._title(prefix)
        self.plot.setYRange(-0.6, len(top) - 0.4, padding=0)
        self.plot.setXRange(0, longest * 1.05, padding=0)

    def name_at(self, y: float) -> str:
        """Full name of the bar at view coordinate y ('' between bars); bars run top-down."""
        i = len(self.names) - 1 - round(y)
        return self.names[i] if 0 <= i < len(self.names) and abs(y - round(y)) <= 0.4 else ""

    def _hover(self, pos: Any) -> None:
        # tick labels are cut from the left; the tooltip gives the whole name
        y = self.plot.getPlotItem().vb.mapSceneToView(pos).y()
        name = self.name_at(y)
        count = self._counts[self.names.index(name)] if name else 0
        self.plot.setToolTip(f"{name or '(root)'}: {count:,} parameters" if name else "")

    def bar_count(self) -> int:
        """Number of bars drawn (for tests and the empty state)."""
        return len(self.names)
