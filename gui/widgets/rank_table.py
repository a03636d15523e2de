"""The Run page's row per rank of a multi-process run: where each process runs and how it does.

Filled from the RankState events rank 0 emits at each train report (each rank's own step,
throughput and peak memory, gathered across ranks), re-emitted as paused/running when the
ranks pause together, and the relay's failed row for a rank that died. The run's end settles
the rest: finished, cancelled, or stopped (another rank failed).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from engine.events import Cancelled, Failed, Finished, RankState

COLUMNS = ("Rank", "Host", "Device", "Step", "Throughput", "Peak memory", "State")
STATE_COLORS = {"running": "#1565c0", "paused": "#b26a00", "finished": "#2e7d32",
                "failed": "#c62828", "cancelled": "#b26a00", "stopped": "#666666"}  # fmt: skip
END_STATES = {Finished: "finished", Cancelled: "cancelled", Failed: "stopped"}


def fmt_rate(per_s: float, unit: str) -> str:
    """'1.2k tok/s', '38.5 samples/s'."""
    if per_s >= 1000:
        return f"{per_s / 1000:.1f}k {unit}/s"
    return f"{per_s:.1f} {unit}/s"


def row_texts(s: RankState) -> list[str]:
    """The cells of one rank's row (state 'failed: the error' for a failed rank)."""
    have_numbers = s.step > 0
    rates = [fmt_rate(s.samples_per_s, "samples")] if have_numbers else []
    if s.tokens_per_s > 0:
        rates.append(fmt_rate(s.tokens_per_s, "tok"))
    memory = (f"{s.peak_mb:,.0f} MB" + (" RSS" if s.device == "cpu" else "")) if s.peak_mb else ""
    state = f"{s.state}: {s.error}" if s.error else s.state
    return [str(s.rank), s.host, s.device, str(s.step) if have_numbers else "", " · ".join(rates),
            memory, state]  # fmt: skip


class RankTable(QTableWidget):
    """One row per rank, in rank order; `on_event` takes every event of the run."""

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setToolTip("Each training process of the run, as rank 0 last gathered it "
                        "(every train report); the plots show the whole run")  # fmt: skip
        self.states: dict[int, RankState] = {}

    def reset(self) -> None:
        self.states.clear()
        self.setRowCount(0)
        self._fit_height()

    def on_event(self, ev: object) -> bool:
        """Update from a RankState or the run's end; True when the rows changed."""
        if isinstance(ev, RankState):
            old = self.states.get(ev.rank)
            if ev.step == 0 and old is not None:  # the relay's failed row knows no numbers
                ev = dataclasses.replace(old, state=ev.state, error=ev.error)
            self.states[ev.rank] = ev
        elif type(ev) in END_STATES and self.states:
            end = END_STATES[type(ev)]
            for rank, s in self.states.items():
                if s.state != "failed":
                    self.states[rank] = dataclasses.replace(s, state=end)
        else:
            return False
        self._show()
        return True

    def state_of(self, rank: int) -> str:
        return self.states[rank].state if rank in self.states else ""

    def _show(self) -> None:
        world = max([s.world for s in self.states.values()] + [max(self.states) + 1])
        self.setRowCount(world)
        for rank in range(world):
            s = self.states.get(rank)
            texts = row_texts(s) if s else [str(rank), "", "", "", "", "", "waiting"]
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if col in (0, 3, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == len(COLUMNS) - 1:
                    item.setForeground(QBrush(QColor(STATE_COLORS.get(s.state if s else "", "#666"))))
                    item.setToolTip(text)
                self.setItem(rank, col, item)
        self._fit_height()

    def _fit_height(self) -> None:
        """Tall enough for every row (up to 8, then it scrolls): the plots keep the rest."""
        rows = min(max(self.rowCount(), 1), 8)
        height = self.horizontalHeader().height() + rows * self.verticalHeader().defaultSectionSize()
        self.setFixedHeight(height + 2 * self.frameWidth() + 2)
