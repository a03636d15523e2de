"""Memory breakdown: parameters, buffers, peak activations for one batch and the KV cache."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.widgets.profile_part import ProfilePart, fmt_mb, static_plot

PARTS = (("params_mb", "parameters", "#4a7fc1"), ("buffers_mb", "buffers", "#90a4ae"),
         ("activation_peak_mb", "activation peak", "#e08a2c"), ("kv_cache", "KV cache", "#8e24aa"))
PEAK_SOURCES = {"cuda": "torch.cuda.max_memory_allocated", "profiler": "torch.profiler memory"}


def memory_bars(memory: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(label, MB, colour) for each measured part; the KV cache only when the model has one."""
    bars = []
    for key, label, color in PARTS:
        value = memory.get(key)
        if key == "kv_cache":
            value = value.get("mb") if isinstance(value, dict) else None
        if value is not None:
            bars.append((label, float(value), color))
    return bars


class MemoryChart(ProfilePart):
    """Vertical bars with their MB written above them."""

    stem = "memory"
    title = "Memory"

    def __init__(self, parent: QWidget | None = None):
        box = QWidget()
        self.plot = static_plot(left="MB")
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.plot, 1)
        col.addWidget(self.note)
        super().__init__(box, parent)
        self.values: dict[str, float] = {}

    def draw(self, record: dict[str, Any]) -> str:
        self.plot.clear()
        memory = record.get("memory") or {}
        bars = memory_bars(memory)
        self.values = {label: mb for label, mb, _c in bars}
        if not bars:
            return "no memory figures in this profile."
        xs = list(range(len(bars)))
        self.plot.addItem(pg.BarGraphItem(x=xs, height=[mb for _l, mb, _c in bars], width=0.6,
                                          brushes=[c for *_x, c in bars], pen=None))
        top = max(mb for _l, mb, _c in bars) or 1.0
        for x, (_label, mb, _c) in zip(xs, bars, strict=True):
            text = pg.TextItem(fmt_mb(mb), color="#333", anchor=(0.5, 1))
            text.setPos(x, mb)
            self.plot.addItem(text)
        ticks = [(x, label) for x, (label, _m, _c) in zip(xs, bars, strict=True)]
        if not isinstance(memory.get("kv_cache"), dict):  # a slot that says why it is empty
            ticks.append((len(bars), "KV cache"))
            text = pg.TextItem("not measured:\nno KV cache", color="#777", anchor=(0.5, 1))
            text.setPos(len(bars), top * 0.15)
            self.plot.addItem(text)
        self.plot.getAxis("bottom").setTicks([ticks, []])
        self.plot.setXRange(-0.6, len(ticks) - 0.4, padding=0)
        self.plot.setYRange(0, top * 1.2, padding=0)
        self.note.setText(self._note(memory))
        return ""

    @staticmethod
    def _note(memory: dict[str, Any]) -> str:
        source = PEAK_SOURCES.get(memory.get("peak_source") or "", memory.get("peak_source") or "?")
        lines = [f"Activation peak for one batch, from {source}."]
        kv = memory.get("kv_cache")
        if isinstance(kv, dict):
            lines.append(f"KV cache at context {kv.get('context')} × batch {kv.get('batch')}: "
                         f"2 × {kv.get('layers')} layers × {kv.get('heads')} heads × {kv.get('head_dim')} "
                         f"× {kv.get('dtype_bytes')} bytes per value.")
        else:
            lines.append("KV cache: not measured (not a causal language model).")
        return " ".join(lines)

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        memory = (self.record or {}).get("memory") or {}
        rows: list[list[Any]] = [[f"{label} (MB)", mb] for label, mb, _c in memory_bars(memory)]
        kv = memory.get("kv_cache")
        if isinstance(kv, dict):
            rows += [[f"kv_cache.{k}", v] for k, v in kv.items() if k != "mb"]
        rows.append(["peak_source", memory.get("peak_source")])
        return ["part", "value"], rows
