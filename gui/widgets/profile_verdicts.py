"""Per-group verdicts in plain sentences, under the machine's measured peak they were judged by."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QWidget

from gui.widgets.profile_part import ProfilePart, bound_color, fmt_ms, rich_label


def machine_line(machine: dict[str, Any]) -> str:
    """'This machine: 50 GFLOP/s matmul, 10 GB/s copy → ridge 5 FLOP/byte (Test CPU, 1 thread)'."""
    if not machine:
        return ""
    where = ", ".join(str(x) for x in (machine.get("cpu") or machine.get("device"),
                                       _threads(machine.get("threads"))) if x)
    return (f"This machine: {machine.get('matmul_gflops', 0):.3g} GFLOP/s matmul, "
            f"{machine.get('copy_gbps', 0):.3g} GB/s copy → ridge "
            f"{machine.get('ridge_flops_per_byte', 0):.3g} FLOP/byte" + (f" ({where})" if where else ""))


def _threads(n: Any) -> str | None:
    return None if not n else f"{n} thread" + ("s" if n != 1 else "")


class VerdictList(ProfilePart):
    """One line per layer group: a dot in its verdict's colour, its time and the sentence."""

    stem = "verdicts"
    title = "Is it compute- or memory-bound?"

    def __init__(self, parent: QWidget | None = None):
        self.text = rich_label()
        scroll = QScrollArea()  # six groups' sentences must not squeeze the chart above them
        scroll.setWidget(self.text)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(80)
        super().__init__(scroll, parent)
        self.sentences: list[str] = []

    def draw(self, record: dict[str, Any]) -> str:
        groups = record.get("groups") or []
        self.sentences = [g.get("verdict") or "" for g in groups]
        if not groups:
            self.text.setText("")
            return "no layer groups were timed, so there is nothing to judge."
        rows = []
        for g in sorted(groups, key=lambda g: -(g.get("time_ms") or 0)):
            dot = f"<span style='color:{bound_color(g.get('bound'))}; font-size: 14pt'>●</span>"
            rows.append(f"<tr><td>{dot}</td><td style='padding-right:8px'><b>{html.escape(g['group'])}</b>"
                        f"<br><span style='color:#777'>{fmt_ms(g.get('time_ms'))}</span></td>"
                        f"<td>{html.escape(g.get('verdict') or '')}</td></tr>")
        machine = html.escape(machine_line(record.get("machine") or {}))
        self.text.setText(f"<table cellspacing='4'>{''.join(rows)}</table>"
                          f"<p style='color:#666'>{machine}</p>")
        return ""

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        header = ["group", "time_ms", "flops", "intensity", "bound", "verdict"]
        groups = (self.record or {}).get("groups") or []
        return header, [[g.get(k) for k in header] for g in groups]
