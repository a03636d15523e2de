"""Energy and cost per artifact, each line labelled measured (NVML/RAPL) or estimated."""

from __future__ import annotations

import html
from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.widgets.profile_part import ProfilePart, rich_label, static_plot

FIELDS = ["artifact", "label", "source", "watts", "joules_per_inference", "price_per_hour", "cost_per_million"]
SOURCES = {"nvml": "NVML power readings", "rapl": "RAPL energy counters",
           "estimate": "CPU time × the target's power figure"}
BAR_COLORS = {"measured": "#2e7d32", "estimated": "#f3c98b"}  # an estimate drawn pale
BADGES = {"measured": "#2e7d32", "estimated": "#b26a00"}


def energy_line(row: dict[str, Any]) -> str:
    """One artifact's energy and cost as rich text, its label first so an estimate is never read as a reading."""
    label = row.get("label") or "estimated"
    badge = (f"<span style='background:{BADGES.get(label, '#777')}; color:white; padding:1px 4px'>"
             f"&nbsp;{html.escape(label.upper())}&nbsp;</span>")
    source = SOURCES.get(row.get("source") or "", row.get("source") or "?")
    joules, cost = row.get("joules_per_inference"), row.get("cost_per_million")
    name = html.escape(str(row.get("artifact")))
    if joules is None:
        return f"{badge} <b>{name}</b>: –"
    text = f"{badge} <b>{name}</b>: {joules:.3g} J per inference at {row.get('watts') or 0:.3g} W ({html.escape(source)})"
    if cost is not None:
        text += f"; {cost:.3g} per million inferences at {row.get('price_per_hour') or 0:g} per hour"
    return text


class EnergyCost(ProfilePart):
    """A line per artifact; estimates say so in the line itself."""

    stem = "energy"
    title = "Energy and cost"

    def __init__(self, parent: QWidget | None = None):
        self.text = rich_label()
        self.plot = static_plot(left="joules per inference")
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.text)
        col.addWidget(self.plot, 1)
        super().__init__(box, parent)
        self.lines: list[str] = []
        self.bar_labels: list[str] = []  # the text over each bar: '0.0435 J (estimated)'

    def _bars(self, rows: list[dict[str, Any]]) -> None:
        """Joules per inference per artifact; an estimate in a pale colour and labelled so."""
        self.plot.clear()
        rows = [r for r in rows if r.get("joules_per_inference") is not None]
        self.bar_labels = [f"{r['joules_per_inference']:.3g} J ({r.get('label') or 'estimated'})" for r in rows]
        if not rows:
            return
        xs = list(range(len(rows)))
        brushes = [BAR_COLORS.get(r.get("label") or "estimated", "#bbb") for r in rows]
        heights = [r["joules_per_inference"] for r in rows]
        self.plot.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.6, brushes=brushes, pen=None))
        for x, h, text in zip(xs, heights, self.bar_labels, strict=True):
            item = pg.TextItem(text, color="#333", anchor=(0.5, 1))
            item.setPos(x, h)
            self.plot.addItem(item)
        self.plot.getAxis("bottom").setTicks([[(x, str(r.get("artifact"))) for x, r in zip(xs, rows, strict=True)], []])
        self.plot.setXRange(-0.6, len(rows) - 0.4, padding=0)
        self.plot.setYRange(0, max(heights) * 1.2 or 1.0, padding=0)

    def draw(self, record: dict[str, Any]) -> str:
        rows = record.get("energy") or []
        self.lines = [energy_line(r) for r in rows]
        if not rows:
            self.text.setText("")
            self._bars([])
            return "no power reading or estimate in this profile."
        estimated = any((r.get("label") or "estimated") != "measured" for r in rows)
        foot = ("<p style='color:#666'>Estimated lines have no power reading on this machine "
                "(no NVML GPU, RAPL not readable): they multiply the measured time by a power figure.</p>"
                if estimated else "")
        self.text.setText("<p>" + "</p><p>".join(self.lines) + "</p>" + foot)
        self._bars(rows)
        return ""

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        rows = (self.record or {}).get("energy") or []
        return FIELDS, [[r.get(k) for k in FIELDS] for r in rows]
