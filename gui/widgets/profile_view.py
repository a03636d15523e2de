"""ProfileView: a profile record's parts in tabs, with a summary line and export to PNG + CSV."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from gui.widgets.profile_energy import EnergyCost
from gui.widgets.profile_export import export_part
from gui.widgets.profile_latency_chart import LatencyChart
from gui.widgets.profile_layers_chart import LayerTimeChart
from gui.widgets.profile_memory_chart import MemoryChart
from gui.widgets.profile_ops_table import OnnxNodesTable, OpTypesTable
from gui.widgets.profile_part import ProfilePart, fmt_flops, fmt_ms
from gui.widgets.profile_verdicts import VerdictList


def short_description(text: str, limit: int = 60) -> str:
    """A model's description up to its first ' — ' or ': ' (the rest is in the tooltip)."""
    for sep in (" — ", ": "):
        text = text.split(sep, 1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_text(record: dict[str, Any]) -> str:
    """'tiny-gpt · 120k params · 26 MFLOP · batch 1 × seq 32 on cpu, 1 thread · whole model 2.2 ms'."""
    model, s = record.get("model") or {}, record.get("settings") or {}
    params = model.get("params")
    bits = [f"<b>{html.escape(short_description(model.get('description') or 'model'))}</b>"]
    if params:
        bits.append(f"{params / 1e6:.3g}M params" if params >= 1e6 else f"{params / 1e3:.3g}k params")
    if model.get("flops"):
        bits.append(fmt_flops(model["flops"]))
    shape = f"batch {s.get('batch')}" + (f" × seq {s['seq']}" if s.get("seq") else "")
    bits.append(f"{shape} on {s.get('device')}, "
                f"{s.get('threads')} thread{'s' if s.get('threads') != 1 else ''}, {s.get('runs')} runs")
    if record.get("whole_ms"):
        bits.append(f"whole model {fmt_ms(record['whole_ms'])}")
    created = str(record.get("created") or "")[:16].replace("T", " ")
    return " · ".join(bits) + (f" <span style='color:#777'>(profiled {created})</span>" if created else "")


class ProfileView(QWidget):
    """Summary line over tabs: Bottlenecks (time per layer + verdicts), Memory, Latency,
    Operators, Energy & cost."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.layers, self.verdicts = LayerTimeChart(), VerdictList()
        self.memory, self.latency = MemoryChart(), LatencyChart()
        self.ops, self.nodes, self.energy = OpTypesTable(), OnnxNodesTable(), EnergyCost()
        bottlenecks = QSplitter(Qt.Orientation.Vertical)
        bottlenecks.addWidget(self.layers)
        bottlenecks.addWidget(self.verdicts)
        bottlenecks.setStretchFactor(0, 3)
        bottlenecks.setStretchFactor(1, 2)
        bottlenecks.setSizes([600, 300])
        bottlenecks.setChildrenCollapsible(False)
        operators = QSplitter(Qt.Orientation.Vertical)
        operators.addWidget(self.ops)
        operators.addWidget(self.nodes)
        operators.setSizes([500, 300])
        operators.setChildrenCollapsible(False)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for widget, name in ((bottlenecks, "Bottlenecks"), (self.memory, "Memory"),
                             (self.latency, "Latency"), (operators, "Operators"),
                             (self.energy, "Energy && cost")):
            self.tabs.addTab(widget, name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self.record: dict[str, Any] | None = None

    def parts(self) -> list[ProfilePart]:
        return [self.layers, self.verdicts, self.memory, self.latency, self.ops, self.nodes, self.energy]

    def show_record(self, record: dict[str, Any]) -> None:
        """Draw every part of `record` (a profile.json dict)."""
        self.record = record
        self.summary.setText(summary_text(record))
        self.summary.setToolTip(str((record.get("model") or {}).get("description") or ""))
        for part in self.parts():
            part.show_record(record)

    def export(self, folder: str | Path) -> list[Path]:
        """Write <part>.png and <part>.csv for every part into `folder`; returns the files."""
        folder, shown, written = Path(folder), self.tabs.currentIndex(), []
        for part in self.parts():
            page = part if self.tabs.indexOf(part) >= 0 else part.parentWidget()
            self.tabs.setCurrentIndex(self.tabs.indexOf(page))  # a hidden tab has no laid-out size
            QApplication.processEvents()
            written += export_part(part, folder)
        self.tabs.setCurrentIndex(shown)
        return written
