"""Compare page: each quantized ONNX file of a real run is its own point, at its measured numbers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from engine.store import Workspace  # noqa: E402
from gui.pages.compare_page import ComparePage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.compare_artifact_points import KIND_STYLES  # noqa: E402
from tests.gui.quantized_run import quantized_run  # noqa: E402


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """The shared real dynamic-int8 run of the tiny GPT (baseline + variant with an int8 file)."""
    root, run_id = quantized_run(tmp_path_factory)
    return root, Workspace(root).get(run_id)


@pytest.fixture
def page(qtbot, quantized):
    w = ComparePage(AppState(quantized[0]))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    return w


def _int8(variant):
    return next(a for a in variant.card["artifacts"] if a["kind"] == "onnx-int8-dynamic")


def test_each_quantized_file_is_a_point_at_its_measured_latency_and_metric(page, quantized):
    _, variant = quantized
    art = _int8(variant)
    scatter = page.scatter
    assert page.metric_picker.currentText() == "perplexity"
    assert scatter.point_count() == 2  # baseline + the variant's fp32 point
    assert scatter.artifact_count() == 1  # + the int8 file
    p = scatter.artifact_points[0]
    assert p.kind == "onnx-int8-dynamic" and p.variant.id == variant.id
    assert p.x == pytest.approx(art["latency_ms_p50"])
    assert p.y == pytest.approx(art["metrics"]["perplexity"])
    assert p.label == f"{variant.name} · int8 dynamic"
    assert "measured by running this ONNX file" in p.tip
    # the scatter item really holds the point, with the kind's own marker
    xs, ys = scatter.artifact_scatter.getData()
    assert list(xs) == pytest.approx([art["latency_ms_p50"]])
    assert list(ys) == pytest.approx([art["metrics"]["perplexity"]])
    assert scatter.artifact_scatter.points()[0].symbol() == KIND_STYLES["onnx-int8-dynamic"][1]


def test_the_variant_point_uses_its_fp32_file_timed_with_the_quantized_one(page, quantized):
    _, variant = quantized
    fp32 = next(a for a in variant.card["artifacts"] if a["kind"] == "onnx-fp32")
    where = {v.id: (x, y) for v, x, y in page.scatter.points}
    assert where[variant.id][0] == pytest.approx(fp32["latency_ms_p50"])
    # and a thin line joins that fp32 point to the int8 point
    link = [i for i in page.scatter._extra if hasattr(i, "getData")
            and list(i.getData()[0]) == pytest.approx([fp32["latency_ms_p50"], _int8(variant)["latency_ms_p50"]])]
    assert link, "no fp32 → int8 line"


def test_size_axis_puts_the_file_at_its_size_on_disk(page, quantized):
    _, variant = quantized
    page.axis_picker.setCurrentIndex(page.axis_picker.findData("size"))
    art = _int8(variant)
    assert page.scatter.artifact_points[0].x == pytest.approx(art["size_bytes"] / 1e6)
    assert "size" in page.scatter.plot.getAxis("bottom").labelText
    own = {v.id: x for v, x, _ in page.scatter.points}[variant.id]
    assert page.scatter.artifact_points[0].x < own * 0.5  # int8 file well under the fp32 one


def test_selecting_the_variant_labels_its_files_and_a_click_on_one_selects_it(qtbot, page, quantized):
    _, variant = quantized
    page.state.select_variant(variant.id)
    # the selected variant's name first, then its file by kind (the dotted line ties them)
    assert page.scatter.labels.texts()[:2] == [variant.name, "int8 dynamic"]
    page.state.select_variant(next(v.id for v in page.model.variants if v.id != variant.id))
    assert page.scatter.labels.texts()[0] != variant.name
    with qtbot.waitSignal(page.scatter.clicked) as got:
        page.scatter._artifact_clicked(None, page.scatter.artifact_scatter.points())
    assert got.args == [variant.id]


def test_legend_names_the_kinds_on_the_plot(page):
    legend = page.scatter.legend
    assert legend.isVisible()
    names = [label.text for _, label in legend.items]
    assert [n for n in names if n != "Pareto front"] == ["variant (fp32)", "int8 dynamic file"]
    # the front is named only when it draws a line: whether the int8 file beats the fp32 one
    # on both axes depends on the latencies this run measured
    assert ("Pareto front" in names) == (page.scatter.front.size() > 1)


def test_page_fits_1024_by_700(page):
    assert page.minimumSizeHint().width() <= 1024 - 150  # room for the side bar
    assert page.scatter.plot.height() > 120
