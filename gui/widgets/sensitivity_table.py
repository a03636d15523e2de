"""The sensitivity panel's table: per layer its size, metric at the top level, whether its
change stands out of the evaluation noise, and the proposed amount."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from engine.estimate import fmt_count
from engine.sensitivity import SensitivityResult, within_noise
from gui.widgets.live_plots import strip_common_prefix

WARNING_COLOR = "#b26a00"  # amber: the result is real but not to be trusted as it stands
NOISE_TIP = (
    "At every level the metric moved by less than the evaluation noise (2 standard errors of "
    "the change, paired batch by batch): this layer cannot be ranked against the others, so "
    "the proposal treats it like every other such layer."
)
NOISE_COL, PROPOSED_COL = 3, 4


def _swatch(color: QColor) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(color)
    return QIcon(pix)


class SensitivityTable(QTableWidget):
    """One row per analysed layer; the layer's full name is each item's UserRole data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 5, parent)
        self.setHorizontalHeaderLabels(["Layer", "Params", "Metric at max", "vs noise", "Proposed"])
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, NOISE_COL, PROPOSED_COL):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeaderItem(NOISE_COL).setToolTip(
            "Is the layer's largest change beyond the evaluation noise?"
        )

    def fill(
        self, r: SensitivityResult, proposal: dict[str, float], colors: dict[str, QColor]
    ) -> None:
        """Show `r` with `proposal`; `colors` are the plot's curve colours (row swatches)."""
        top = max(r.levels)
        short_metric = "acc" if r.metric == "accuracy" else "ppl"
        self.horizontalHeaderItem(2).setText(f"{short_metric} @ {top:.0%}")
        self.setRowCount(len(r.curves))
        names = list(r.curves)
        short = strip_common_prefix(names)
        for row, name in enumerate(names):
            at_top = dict(r.curves[name]).get(top, float("nan"))
            amount = proposal.get(name, 0.0)
            value = f"{at_top:.1%}" if r.metric == "accuracy" else f"{at_top:.4g}"
            noisy = within_noise(r, name)
            vs_noise = "—" if r.noise is None else "within" if noisy else "beyond"
            cells = [short[row], fmt_count(r.sizes[name]), value, vs_noise, f"{amount:.0%}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, name)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col, item)
            first = self.item(row, 0)
            first.setToolTip(name)
            first.setIcon(_swatch(colors.get(name, QColor("#888"))))
            if noisy:
                self.item(row, NOISE_COL).setForeground(QColor(WARNING_COLOR))
                self.item(row, NOISE_COL).setToolTip(NOISE_TIP)
            # the proposed amount as a light tint: the eye finds the spared layers at once
            tint = QColor(76, 114, 176, int(25 + 120 * amount))
            self.item(row, PROPOSED_COL).setBackground(tint)

    def select_layer(self, name: str) -> None:
        """Select the row of layer `name` (nothing when it is not shown)."""
        for row in range(self.rowCount()):
            if self.item(row, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.selectRow(row)
                return
