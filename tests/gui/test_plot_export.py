"""Plot export: every plot saves as PNG (pyqtgraph's ImageExporter) and its data as CSV
(CSVExporter for curves, the widget's own table for bar charts and the Compare scatter)."""

from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from gui.widgets.plot_export import CSV_TEXT, PNG_TEXT, add_plot_export, file_stem, plot_export_of  # noqa: E402


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def curve_plot(qtbot):
    plot = pg.PlotWidget(background="w")
    plot.resize(420, 260)
    plot.addLegend()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def test_png_is_a_decodable_image_the_size_of_the_plot(curve_plot, tmp_path):
    curve_plot.plot([0, 1, 2], [3.0, 1.0, 2.0], pen="r", name="loss")
    export = add_plot_export(curve_plot, "run loss")
    path = export.save_png(tmp_path / "loss.png")
    image = QImage(str(path))
    assert not image.isNull()
    item = curve_plot.getPlotItem().sceneBoundingRect()
    assert (image.width(), image.height()) == (int(item.width()), int(item.height()))
    assert abs(image.width() - curve_plot.width()) <= 4 and abs(image.height() - curve_plot.height()) <= 4
    # the red curve is drawn, not only the white background
    pixels = {image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert any(c.startswith("#f") and c[3:5] < "40" for c in pixels)


def test_csv_holds_exactly_the_curve_as_set_from_a_ring_buffer(curve_plot, tmp_path):
    from gui.widgets.ring_buffer import RingBuffer

    buf = RingBuffer(4)  # wrapped: the curve holds the newest 4 points in order
    for step in range(7):
        buf.append(step, step * 0.5)
    xs, ys = buf.data()
    curve = curve_plot.plot(xs, ys, name="train/loss")
    curve_plot.getPlotItem().setDownsampling(auto=True, mode="peak")  # the view may thin it ...
    curve_plot.getPlotItem().setClipToView(True)
    curve_plot.setXRange(4, 5)
    rows = _rows(add_plot_export(curve_plot, "run loss").save_csv(tmp_path / "loss.csv"))
    assert rows[0] == ["train/loss_x", "train/loss_y"]  # ... the file still has every point
    assert [[float(a), float(b)] for a, b in rows[1:]] == [[3, 1.5], [4, 2.0], [5, 2.5], [6, 3.0]]
    assert np.array_equal(curve.getOriginalDataset()[0], xs)


def test_scatter_points_are_exported_too(curve_plot, tmp_path):
    curve_plot.addItem(pg.ScatterPlotItem(x=[1.0, 2.0], y=[0.25, 0.75], name="variants"))
    rows = _rows(add_plot_export(curve_plot, "points").save_csv(tmp_path / "p.csv"))
    assert rows[0] == ["variants_x", "variants_y"]
    assert [[float(v) for v in r] for r in rows[1:]] == [[1.0, 0.25], [2.0, 0.75]]


def test_bar_charts_write_the_widgets_own_table(qtbot, tmp_path):
    from gui.widgets.layer_bars import LayerBars

    bars = LayerBars()
    qtbot.addWidget(bars)
    bars.set_values({"encoder.layer.0.attn.q": 0.5, "encoder.layer.1.mlp.fc1": 0.25})
    export = plot_export_of(bars.plot)
    assert export is not None and file_stem(export.name) == "run-sparsity-per-layer"
    rows = _rows(export.save_csv(tmp_path / "bars.csv"))
    assert rows == [["layer", "fraction of zero weights"], ["encoder.layer.0.attn.q", "0.5"],
                    ["encoder.layer.1.mlp.fc1", "0.25"]]


def test_live_plots_have_export_in_their_menu_and_a_button(qtbot):
    from gui.widgets.live_plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    for key, pw in plots.plots.items():
        export = plot_export_of(pw)
        assert export is not None, key
        menu = [a.text() for a in pw.getPlotItem().getViewBox().menu.actions()]
        assert PNG_TEXT in menu and CSV_TEXT in menu
        assert [a.text() for a in export.button.menu().actions()] == [PNG_TEXT, CSV_TEXT]
    assert file_stem(plot_export_of(plots.plots["loss"]).name) == "run-loss"
    assert plot_export_of(plots.layer_bars.plot) and plot_export_of(plots.histogram.plot)


def test_every_chart_widget_has_an_export(qtbot):
    """The charts built outside the Run page: each plot carries its PlotExport."""
    from gui.widgets.activation_range_view import ActivationRangeView
    from gui.widgets.anatomy_chart import AnatomyChart
    from gui.widgets.compare_plot_box import ComparePlotBox
    from gui.widgets.node_error_chart import NodeErrorChart
    from gui.widgets.profile_view import ProfileView
    from gui.widgets.sensitivity_plot import SensitivityPlot
    from gui.widgets.variant_diff import VariantDiffView
    from gui.widgets.variant_family_chart import FamilyChart

    family = FamilyChart()
    found = [family.size_plot, family.latency_plot, SensitivityPlot(), AnatomyChart().plot,
             NodeErrorChart().plot, ActivationRangeView().plot, VariantDiffView().chart,
             ComparePlotBox().scatter.plot]
    profile = ProfileView()
    found += profile.findChildren(pg.PlotWidget)
    assert len(found) >= 12
    for plot in found:
        assert plot_export_of(plot) is not None, plot
    stems = {file_stem(plot_export_of(p).name) for p in profile.findChildren(pg.PlotWidget)}
    assert all(s.startswith("profile-") for s in stems)


def test_family_chart_csv_has_full_variant_names(qtbot, tmp_path):
    from gui.widgets.variant_family_chart import FamilyChart

    chart = FamilyChart()
    qtbot.addWidget(chart)
    chart.names = ["baseline-model-with-a-long-name", "pruned"]
    chart._bars(chart.size_plot, [], [], "x")  # nothing drawn: an empty table, not an error
    chart.size_plot.addItem(pg.BarGraphItem(x0=0, y=[1, 0], height=0.6, width=[12.5, 6.25]))
    rows = _rows(plot_export_of(chart.size_plot).save_csv(tmp_path / "f.csv"))
    assert rows == [["variant", "size_mb"], ["baseline-model-with-a-long-name", "12.5"], ["pruned", "6.25"]]


def test_compare_scatter_csv_names_every_point_and_the_front(qtbot, tmp_path):
    from gui.pages.compare_page import ComparePage
    from gui.state import AppState
    from tests.engine.compare.lineage_workspace import build

    by_name = build(tmp_path / "ws")
    page = ComparePage(AppState(tmp_path / "ws"))
    qtbot.addWidget(page)
    export = plot_export_of(page.plot_box.scatter.plot)
    assert file_stem(export.name) == "compare-latency" and export.corner == "left"
    rows = _rows(export.save_csv(tmp_path / "scatter.csv"))
    assert rows[0] == ["variant", "id", "file", "ONNX latency p50 (ms, lower is better)", "perplexity", "on_front"]
    got = {(r[0], r[2]): (float(r[3]), float(r[4]), r[5]) for r in rows[1:]}
    assert got[("prune-50", "fp32")] == (7.0, 6.32, "False")  # slower than base's int8 file and worse
    assert got[("int8", "onnx-int8-dynamic")] == (5.0, 6.12, "True")
    assert {name for name, _ in got} == {"tiny-gpt (base)", "prune-50", "prune-50-distilled", "int8"}
    assert by_name["prune-bad"].id not in {r[1] for r in rows}  # failed: no point, no row


def test_live_loss_csv_has_the_smoothed_and_the_measured_curve_named(qtbot, tmp_path):
    from engine.events import Metric
    from gui.widgets.live_plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    for step in range(1, 5):
        plots.on_event(Metric("train/loss", step, 1.0 / step))
    plots.set_smoothing(0.5)
    plots.redraw()
    rows = _rows(plot_export_of(plots.plots["loss"]).save_csv(tmp_path / "loss.csv"))
    assert rows[0] == ["train loss_x", "train loss_y", "train loss (unsmoothed)_x", "train loss (unsmoothed)_y"]
    assert [float(r[3]) for r in rows[1:]] == pytest.approx([1.0, 0.5, 1 / 3, 0.25], abs=1e-9)  # as measured
    assert float(rows[2][1]) == pytest.approx(2 / 3)  # the EMA drawn
    plots.set_smoothing(0.0)
    plots.redraw()  # no smoothing: the faint copy is empty and leaves no empty columns
    assert _rows(plot_export_of(plots.plots["loss"]).save_csv(tmp_path / "l2.csv"))[0] == ["train loss_x", "train loss_y"]


def test_right_click_on_a_plot_without_pyqtgraphs_menu_opens_the_save_menu(qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication

    from gui.widgets.anatomy_chart import AnatomyChart

    chart = AnatomyChart()
    chart.resize(400, 300)
    qtbot.addWidget(chart)
    chart.show()
    qtbot.waitExposed(chart)
    export = plot_export_of(chart.plot)
    assert chart.plot.getPlotItem().getViewBox().menu is None  # a static chart: no pyqtgraph menu
    centre = QPoint(chart.plot.width() // 2, chart.plot.height() // 2)
    qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.RightButton, pos=centre)
    qtbot.waitUntil(lambda: export.menu.isVisible())
    assert QApplication.activePopupWidget() is export.menu
    export.menu.close()
    # the save button sits in the top-right corner, inside the plot
    assert export.button.geometry().right() <= chart.plot.width() and export.button.y() == 2
    assert export.button.x() > chart.plot.width() - 30
