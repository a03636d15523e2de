"""The Compare page's plot area: metric-vs-latency or metric-vs-size scatter with its pickers."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets.compare_pareto_axes import AXES
from gui.widgets.compare_scatter import CompareScatter
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import scatter_table


class ComparePlotBox(QWidget):
    """Scatter plus the x-axis picker (latency / file size) and the metric picker."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.metric_picker = QComboBox()
        self.metric_label = QLabel("Plot metric:")
        self.axis_picker = QComboBox()  # metric vs latency, or metric vs size on disk
        for key, (text, _label) in AXES.items():  # latency p50/p95, size, params, FLOPs, energy
            self.axis_picker.addItem(text, key)
        self.axis_picker.setToolTip("X axis: a cost (ONNX latency, file size, parameters, FLOPs, "
                                    "energy from a profile); quantized files are their own points")
        self.scatter = CompareScatter()
        add_plot_export(self.scatter.plot, lambda: f"compare {self.axis()}", data=lambda: scatter_table(self.scatter),
                        corner="left")  # the legend holds the top right
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Metric vs</b>"))
        row.addWidget(self.axis_picker)
        self.legend = QLabel("(arrows: parent → child; <span style='color:#2e7d32'>dashed</span>: "
                             "dense control → child; dotted: fp32 → quantized file; "
                             "<span style='color:#6a1b9a'>purple dotted</span>: teacher → student)")
        # wraps when the student-vs-teacher panel takes the plot's right side at 1024 px
        self.legend.setWordWrap(True)
        row.addWidget(self.legend, 1)
        row.addWidget(self.metric_label)
        row.addWidget(self.metric_picker)
        layout.addLayout(row)
        layout.addWidget(self.scatter, 1)

    def axis(self) -> str:
        """An AXES key: 'latency', 'latency_p95', 'size', 'params', 'flops' or 'energy'."""
        return self.axis_picker.currentData() or "latency"
