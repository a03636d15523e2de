"""Run history: past runs of the workspace, ticked to overlay their curves on the live plots.

Each run folder holds the metrics.jsonl its job wrote; ticking a run reads it (a
truncated last line of a killed run is skipped and said so) and hands the curves to
`LivePlots.show_history`. The run in progress is listed first, in bold, not tickable:
its curves are the live ones.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.metrics_log import METRICS_FILE, MetricsLog, read_metrics
from engine.store import Workspace, WorkspaceError

RUN_ROLE = Qt.ItemDataRole.UserRole
MAX_RUNS = 200  # newest first; older runs stay in the workspace, just not in this list


def swatch(color: str) -> QIcon:
    """A small square of `color` (the run's curves) for its row."""
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def run_label(name: str, run_id: str, status: str, created: float) -> str:
    """'tiny-gpt-random50 · 12-02 16:10 · finished' (the id is in the tooltip)."""
    stamp = time.strftime("%m-%d %H:%M", time.localtime(created)) if created else run_id
    return f"{name} · {stamp} · {status}"


class RunHistoryPanel(QWidget):
    """Checkable list of the workspace's runs that have curves; emits what to overlay."""

    shown = Signal(str, object)  # run id, MetricsLog
    hidden = Signal(str)  # run id

    def __init__(self, workspace: Workspace, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = workspace
        self.current: str | None = None  # the live run: highlighted, not tickable
        self.logs: dict[str, MetricsLog] = {}  # ticked runs
        self.colors: dict[str, str] = {}  # ticked run -> its curves' colour (the list is the legend)
        title = QLabel("<b>Run history</b>")
        hint = QLabel("Tick runs to overlay their curves.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        self.list = QListWidget()
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemChanged.connect(self._item_changed)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #b26a00;")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.refresh_button)

    def set_workspace(self, workspace: Workspace) -> None:
        """List another workspace's runs (ticked runs of the old one are hidden)."""
        for run_id in list(self.logs):
            self.hidden.emit(run_id)
        self.logs.clear()
        self.colors.clear()
        self.workspace = workspace
        self.refresh()

    def set_current(self, run_id: str | None) -> None:
        """Mark the live run (its curves are already on the plots)."""
        self.current = run_id
        if run_id in self.logs:  # it is live now: not also an overlay
            del self.logs[run_id]
            self.colors.pop(run_id, None)
            self.hidden.emit(run_id)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the workspace's runs, keeping what is ticked."""
        try:
            variants = self.workspace.variants()
        except (WorkspaceError, OSError) as exc:
            self.note.setText(f"cannot list runs: {exc}")
            return
        self.list.blockSignals(True)
        self.list.clear()
        bold = QFont(self.list.font())
        bold.setBold(True)
        for v in sorted(variants, key=lambda v: v.created, reverse=True)[:MAX_RUNS]:
            if not (self.workspace.run_dir(v.id) / METRICS_FILE).is_file():
                continue  # a baseline or a run that never trained has no curves
            item = QListWidgetItem(run_label(v.name, v.id, v.status, v.created))
            item.setData(RUN_ROLE, v.id)
            item.setToolTip(f"{v.name} ({v.id}), {v.status}")
            if v.id == self.current:
                item.setText(f"▶ {item.text()} (this run)")
                item.setFont(bold)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                self.list.insertItem(0, item)
                continue
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if v.id in self.logs else Qt.CheckState.Unchecked)
            if v.id in self.colors:
                item.setIcon(swatch(self.colors[v.id]))
            self.list.addItem(item)
        self.list.blockSignals(False)

    def set_color(self, run_id: str, color: str) -> None:
        """Show the colour a ticked run's curves are drawn in next to its name."""
        self.colors[run_id] = color
        item = self.item_for(run_id)
        if item is not None:
            item.setIcon(swatch(color))

    def item_for(self, run_id: str) -> QListWidgetItem | None:
        """The list row of `run_id` (None when it is not listed)."""
        for i in range(self.list.count()):
            if self.list.item(i).data(RUN_ROLE) == run_id:
                return self.list.item(i)
        return None

    def _item_changed(self, item: QListWidgetItem) -> None:
        run_id = item.data(RUN_ROLE)
        if item.checkState() == Qt.CheckState.Checked:
            if run_id in self.logs:
                return
            # a metrics file is a few hundred KB at most: read here, where the click is answered
            log = read_metrics(self.workspace.run_dir(run_id) / METRICS_FILE)
            self.note.setText(log.note())
            if log.error and not log.series:
                item.setCheckState(Qt.CheckState.Unchecked)
                return
            self.logs[run_id] = log
            self.shown.emit(run_id, log)
        elif run_id in self.logs:
            del self.logs[run_id]
            self.colors.pop(run_id, None)
            item.setIcon(QIcon())
            self.note.setText("")
            self.hidden.emit(run_id)
