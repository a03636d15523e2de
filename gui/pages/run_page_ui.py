"""The Run page's widgets: built once by RunPage.__init__ (layout only, no behaviour)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
)

from gui.widgets.live_plots import LivePlots
from gui.widgets.quantize_live import QuantizeLivePanel
from gui.widgets.rank_table import RankTable
from gui.widgets.recipe_flowchart import RecipeFlowchart
from gui.widgets.run_history import RunHistoryPanel

LOG_LINES = 2000  # older lines drop off; the full story is in the run folder


class RunPageUi:
    """Mixin for RunPage: makes its buttons, labels, plots, history panel and log.

    The page supplies state, runner and the slots the widgets connect to.
    """

    def _build(self) -> None:
        """Build the page: header with buttons, progress, status, plots over the log."""
        head = self._build_head()
        progress_row = self._build_progress()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        splitter = self._build_log_split()
        self.ranks = RankTable()  # a row per rank of a multi-process run (hidden otherwise)
        self.ranks.hide()
        self.flowchart = RecipeFlowchart()  # the recipe's stages: running one lit, done ticked

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(head)
        layout.addSpacing(6)
        layout.addWidget(self.progress)
        layout.addLayout(progress_row)
        layout.addWidget(self.status)
        layout.addWidget(self.ranks)
        layout.addWidget(self.flowchart)
        layout.addWidget(splitter, 1)

    def _build_head(self) -> QHBoxLayout:
        """Title and recipe line, with the Continue / Start / Pause / Resume / Cancel buttons."""
        icons = self.style()
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() + 3)
        font.setBold(True)
        self.title.setFont(font)
        self.recipe_line = QLabel()
        self.recipe_line.setStyleSheet("color: #555;")
        self.recipe_line.setWordWrap(True)

        self.start_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.pause_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.resume_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Resume")
        self.cancel_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Cancel")
        self.continue_button = QPushButton(icons.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Continue run")
        self.continue_button.setToolTip(
            "Continue the cancelled run from its last training checkpoint (train.checkpoint_every)"
        )
        self.continue_button.clicked.connect(self.continue_run)
        self.continue_button.hide()
        self.start_button.setToolTip("Run the current recipe (the same Job the CLI runs)")
        self.pause_button.setToolTip("Hold at the next batch boundary")
        self.cancel_button.setToolTip("Stop at the next batch boundary; the run is recorded as cancelled")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.runner.pause)
        self.resume_button.clicked.connect(self.runner.resume)
        self.cancel_button.clicked.connect(self.cancel)

        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.recipe_line)
        head.addLayout(titles, 1)
        for b in (self.continue_button, self.start_button, self.pause_button, self.resume_button,
                  self.cancel_button):
            b.setMinimumWidth(88)
            head.addWidget(b)
        return head

    def _build_progress(self) -> QHBoxLayout:
        """The progress bar (self.progress) and the stage / ETA row under it."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(14)
        self.stage_label = QLabel("idle")
        self.eta_label = QLabel()
        self.eta_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.stage_label, 1)
        progress_row.addWidget(self.eta_label)
        return progress_row

    def _build_log_split(self) -> QSplitter:
        """The plots side over the job's log, in a vertical splitter."""
        side = self._build_plots()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setFont(QFont("monospace", max(self.font().pointSize() - 1, 8)))
        self.log.setPlaceholderText("The job's log appears here.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(side)
        splitter.addWidget(self.log)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([520, 110])
        return splitter

    def _build_plots(self) -> QSplitter:
        """Live plots with their History… button, and the run history beside them (hidden)."""
        self.plots = LivePlots()
        self.history = RunHistoryPanel(self.state.workspace)
        self.history.shown.connect(
            lambda run_id, log: self.history.set_color(run_id, self.plots.show_history(run_id, log))
        )
        self.history.hidden.connect(self.plots.hide_history)
        self.history.hide()
        self.history_button = QPushButton("History…")
        self.history_button.setCheckable(True)
        self.history_button.setToolTip("Overlay the curves of past runs in this workspace")
        self.history_button.toggled.connect(self._toggle_history)
        self.plots.controls.addWidget(self.history_button)
        # between progress events (every log_every steps) the ETA counts down by itself
        self.eta_timer = QTimer(self)
        self.eta_timer.setInterval(1000)
        self.eta_timer.timeout.connect(self._tick_eta)
        side = QSplitter(Qt.Orientation.Horizontal)
        side.addWidget(self._build_plot_tabs())
        side.addWidget(self.history)
        side.setStretchFactor(0, 1)
        side.setChildrenCollapsible(False)
        side.setSizes([800, 200])
        return side

    def _build_plot_tabs(self) -> QTabWidget:
        """Training plots, and a Quantization tab that exists only for recipes with an int8
        step: it fills after training, so it gets the whole width instead of squeezing the
        loss and sparsity plots (its tab bar is hidden otherwise)."""
        self.quantize_panel = QuantizeLivePanel()
        self.plot_tabs = QTabWidget()
        self.plot_tabs.setDocumentMode(True)
        self.plot_tabs.addTab(self.plots, "Training")
        self.plot_tabs.addTab(self.quantize_panel, "Quantization")
        return self.plot_tabs
