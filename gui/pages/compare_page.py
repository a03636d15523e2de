"""Compare page: every variant as a sortable table; below it tabs: the plot, the lineage tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.store import Variant
from gui.state import AppState
from gui.widgets.compare_columns import fit_columns, setup_columns
from gui.widgets.compare_legend import compare_legend
from gui.widgets.compare_plot_box import ComparePlotBox
from gui.widgets.compare_table import CompareModel, NumericSortProxy
from gui.widgets.compare_tabs import CompareTabs
from gui.widgets.compare_teacher import TeacherPanel
from gui.widgets.fair_parent_note import FairParentNote
from gui.widgets.hint_box import hint_box
from gui.widgets.report_button import ReportButton
from gui.widgets.table_copy import add_copy_actions
from gui.widgets.variant_actions import VariantActions
from gui.widgets.variant_metrics import PRIMARY_METRICS, primary_metric

EMPTY_TEXT = (
    "<h3>No variants in this workspace yet</h3>"
    "<p>Load a model, choose methods on the Optimize page and run the recipe on the Run page.<br>"
    "Every run (and the unmodified baseline it starts from) appears here.</p>"
)


class ComparePage(QWidget):
    """Variants table (select → state.select_variant, double-click → Export) over tabs."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._syncing = False  # guards the table ↔ state selection loop

        top, second = self._build_header()
        self.note = FairParentNote(state, reserve=True)
        self._build_table()
        self._build_plot()
        self.teacher = TeacherPanel()  # a distilled student next to its teacher
        self.teacher.select_teacher.connect(state.select_variant)
        self.tabs = CompareTabs(self.plot_box, self.teacher)  # Plot | Lineage | Diff
        self.tabs.lineage.clicked.connect(state.select_variant)
        self.tabs.lineage.opened.connect(self._open_variant)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table_stack)
        split.addWidget(self.tabs)
        split.setSizes([330, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)

        state.variants_changed.connect(self.refresh)
        state.workspace_changed.connect(lambda _ws: self.refresh())
        state.selected_variant_changed.connect(self._select_in_table)
        self.refresh()

    def _build_header(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """Title and variant buttons (first row), colour legend and action message (second)."""
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.legend = legend = compare_legend()
        self.actions = VariantActions(lambda: self.state.workspace, self)
        self.actions.done.connect(self._show_message)
        self.actions.changed.connect(self.state.variants_changed.emit)
        self.rename_btn = QPushButton("Rename…")
        self.rename_btn.clicked.connect(lambda: self._act(self.actions.rename))
        self.delete_btn = QPushButton("Delete…")
        self.delete_btn.clicked.connect(lambda: self._act(self.actions.delete))
        self.csv_btn = QPushButton("Export CSV…")
        self.csv_btn.setToolTip("Every variant as one CSV row (raw numbers, deltas vs the fair parent)")
        self.csv_btn.clicked.connect(lambda: self.actions.export_csv())
        self.report_btn = ReportButton(self.state, self.selected, self)  # HTML report, as the CLI
        self.report_btn.done.connect(self._show_message)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        for b in (self.rename_btn, self.delete_btn, self.csv_btn, self.report_btn, self.refresh_btn):
            top.addWidget(b)
        self.message = QLabel()
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        second = QHBoxLayout()
        second.addWidget(legend)
        second.addStretch(1)
        second.addWidget(self.message)
        return top, second

    def _build_table(self) -> None:
        """The sortable variants table, stacked over the empty-workspace hint."""
        self.model = CompareModel(self)
        self.proxy = NumericSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # oldest first until a click
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        setup_columns(self.view)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.view.doubleClicked.connect(self._open_export)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        go_run = QPushButton("Go to the Run page")
        go_run.clicked.connect(lambda: self.state.navigate.emit("Run"))
        self.empty = hint_box(EMPTY_TEXT, go_run, word_wrap=False)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.empty)
        self.table_stack.addWidget(self.view)

    def _build_plot(self) -> None:
        """The metric-vs-latency/size scatter with its pickers (self.plot_box)."""
        self.plot_box = ComparePlotBox()
        self.metric_picker = self.plot_box.metric_picker
        self.metric_label = self.plot_box.metric_label
        self.axis_picker = self.plot_box.axis_picker
        self.scatter = self.plot_box.scatter
        self.metric_picker.currentIndexChanged.connect(self._redraw_plot)
        self.axis_picker.currentIndexChanged.connect(self._redraw_plot)
        self.scatter.clicked.connect(self._point_clicked)

    # -- data ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the workspace store (cheap: one SQLite query)."""
        variants = self.state.workspace.variants()
        self.model.set_variants(variants)
        n_done = sum(v.status == "finished" for v in variants)
        self.title.setText(f"Variants: {len(variants)} ({n_done} finished)")
        self.table_stack.setCurrentIndex(1 if variants else 0)
        # an empty workspace is one message, not an empty table over an empty plot
        self.plot_box.setVisible(bool(variants))
        self.legend.setVisible(bool(variants))
        self.tabs.setVisible(bool(variants))
        self.tabs.show_variants(self.state.workspace, variants)
        self._fill_metric_picker(variants)
        self._redraw_plot()
        self._fit_columns()
        if self.state.selected_variant:
            self._select_in_table(self.state.selected_variant)
        self._update_selection_ui()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        fit_columns(self.view, self.model)

    def _fill_metric_picker(self, variants: list[Any]) -> None:
        found = [m[0] for v in variants if (m := primary_metric(v.card or {}))]
        names = [n for n in PRIMARY_METRICS if n in found] or sorted(set(found)) or ["perplexity"]
        current = self.metric_picker.currentText()
        if current not in names:  # first fill: the selected variant's metric, else the commonest
            chosen = self._selected_metric()
            current = chosen if chosen in names else max(names, key=found.count)
        self.metric_picker.blockSignals(True)
        self.metric_picker.clear()
        self.metric_picker.addItems(names)
        self.metric_picker.setCurrentText(current)
        self.metric_picker.blockSignals(False)
        # one metric in the workspace: nothing to choose, so no picker
        self.metric_picker.setVisible(len(names) > 1)
        self.metric_label.setVisible(len(names) > 1)

    def _selected_metric(self) -> str | None:
        run_id = self.state.selected_variant
        row = self.model.row_of(run_id) if run_id else -1
        metric = primary_metric(self.model.variants[row].card or {}) if row >= 0 else None
        return metric[0] if metric else None

    def _redraw_plot(self, *_: Any) -> None:
        self.scatter.set_variants(self.model.variants, self.metric_picker.currentText() or "perplexity",
                                  self.plot_box.axis())
        self.scatter.select(self.state.selected_variant)

    # -- selection -----------------------------------------------------------------
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        run_id = self.model.variants[self.proxy.mapToSource(current).row()].id
        self.model.focus(run_id)
        self.scatter.select(run_id)
        self.tabs.select(run_id)
        self._update_selection_ui()
        if not self._syncing and run_id != self.state.selected_variant:
            self.state.select_variant(run_id)

    def _select_in_table(self, run_id: str) -> None:
        row = self.model.row_of(run_id)
        if row < 0:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self._syncing = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.view.selectionModel().setCurrentIndex(index, flags)
        finally:
            self._syncing = False
        self.model.focus(run_id)
        self.scatter.select(run_id)
        self.tabs.select(run_id)
        self._update_selection_ui()

    def select_row(self, proxy_row: int) -> None:
        """Select a row as the user would (by its position in the sorted view)."""
        self.view.selectRow(proxy_row)

    def _point_clicked(self, run_id: str) -> None:
        self.state.select_variant(run_id)

    def _open_export(self, index: QModelIndex) -> None:
        self._open_variant(self.model.variants[self.proxy.mapToSource(index).row()].id)

    def _open_variant(self, run_id: str) -> None:
        if run_id != self.state.selected_variant:
            self.state.select_variant(run_id)
        self.state.navigate.emit("Export")

    # -- delete / rename / CSV ------------------------------------------------------------
    def selected(self) -> Variant | None:
        """The variant of the table's current row, if any."""
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        return self.model.variants[self.proxy.mapToSource(index).row()]

    def _act(self, action: Callable[[Variant], bool]) -> None:
        v = self.selected()
        if v is not None:
            action(v)

    def _update_selection_ui(self) -> None:
        """Buttons for the selected variant, and the note on how fair its comparison is."""
        v = self.selected()
        running = v is not None and v.status == "running"
        self.rename_btn.setEnabled(v is not None and not running)
        self.delete_btn.setEnabled(v is not None and not running)
        tip = "a running variant cannot be changed; cancel it or wait for it to finish"
        for b in (self.rename_btn, self.delete_btn):
            b.setToolTip(tip if running else "")
        self.csv_btn.setEnabled(bool(self.model.variants))
        self.note.show_for(v, self.model.variants)
        self.teacher.show_for(v, self.model.variants)
        metric = primary_metric(v.card or {}) if v is not None else None
        if metric and self.metric_picker.findText(metric[0]) >= 0:
            self.metric_picker.setCurrentText(metric[0])  # plot the selected variant's metric

    def _context_menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        self.view.selectRow(index.row())
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        """The row menu: open on Export, rename, delete, export CSV (built for the current row)."""
        menu = QMenu(self)
        v = self.selected()
        running = v is not None and v.status == "running"
        menu.addAction("Open on the Export page", lambda: self.state.navigate.emit("Export"))
        menu.addSeparator()
        menu.addAction("Rename…", lambda: self._act(self.actions.rename)).setEnabled(not running)
        menu.addAction("Delete…", lambda: self._act(self.actions.delete)).setEnabled(not running)
        menu.addAction("Export all as CSV…", lambda: self.actions.export_csv())
        add_copy_actions(menu, self.view)  # Copy as TSV, as every table
        return menu

    def _show_message(self, text: str, ok: bool) -> None:
        self.message.setStyleSheet(f"color: {'#2e7d32' if ok else '#c62828'};")
        self.message.setText(text)
