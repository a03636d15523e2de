"""Horizontal bar chart of the largest layers by parameter count."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.widgets.anatomy_table import fmt_count

TOP_N = 15
BAR_COLOR = "#4a7fc1"


def short_name(name: str, limit: int = 34) -> str:
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
        self._title(prefix="")
        self.plot.getAxis("bottom").setLabel("parameters")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#333")
            self.plot.getAxis(axis).setPen("#888")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.bars: pg.BarGraphItem | None = None
        self._labels: list[pg.TextItem] = []
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def _title(self, prefix: str) -> None:
        # a long title widens the plot past its widget, so the prefix goes on a second line
        where = f"<br><span style='color:#777'>names inside {prefix.rstrip('.')}</span>" if prefix else ""
        self.plot.setTitle(f"Largest {TOP_N} layers by parameters{where}", color="#333", size="10pt")

    def set_rows(self, rows: list[Any]) -> None:
        """Redraw from a summary's LayerRows."""
        top = top_layers(rows)
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.names = [r.name for r in top]
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
        ticks = [(y, short_name(r.name.removeprefix(prefix))) for y, r in zip(ys, top, strict=True)]
        self.plot.getAxis("left").setTicks([ticks, []])
        self._title(prefix)
        self.plot.setYRange(-0.6, len(top) - 0.4, padding=0)
        self.plot.setXRange(0, longest * 1.05, padding=0)

    def bar_count(self) -> int:
        """Number of bars drawn (for tests and the empty state)."""
        return len(self.names)
