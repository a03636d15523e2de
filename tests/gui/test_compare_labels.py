"""Compare plots: labels of points that sit close together never overlap, and every point is named."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import itertools  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, QSizeF  # noqa: E402

from engine.store import Variant  # noqa: E402
from gui.widgets.compare_labels import place  # noqa: E402
from gui.widgets.compare_scatter import CompareScatter  # noqa: E402
from tests.gui.quantized_run import quantized_run  # noqa: E402


def _card(ppl: float, ms: float, mb: float, files: list[tuple[str, float, float, float]]) -> dict:
    """A card as the engine writes it: metrics, the fp32 export, and one entry per file."""
    arts = [{"kind": "onnx-fp32", "latency_ms_p50": ms, "size_bytes": mb * 1e6, "metrics": {"perplexity": ppl}}]
    arts += [{"kind": k, "latency_ms_p50": lat, "size_bytes": size * 1e6, "metrics": {"perplexity": p}}
             for k, lat, size, p in files]
    return {"metrics": {"perplexity": ppl}, "onnx": {"latency_ms_p50": ms, "size_bytes": mb * 1e6},
            "artifacts": arts if files else []}


def _crowded() -> list[Variant]:
    """A parent, three untrained children at its metric, and a pruned child with four close files."""
    base = Variant("base", None, "tiny-gpt (base)", "finished", "", _card(6.10, 6.7, 3.76, []))
    out = [base]
    for i, kind in enumerate(("int8-dynamic", "int4", "fp16")):
        out.append(Variant(f"q{i}", "base", f"quantize-{kind}-tiny", "finished", "",
                           _card(6.10, 6.7 + 0.05 * i, 3.76, [(f"onnx-{kind}", 6.5 + 0.1 * i, 1.0, 6.101)])))
    out.append(Variant("multi", "base", "prune50-multi-quant", "finished", "", _card(
        6.32, 16.4, 3.76, [("onnx-int8-dynamic", 16.0, 1.0, 6.33), ("onnx-int8-static", 16.2, 1.0, 6.325),
                           ("onnx-int4", 15.8, 0.9, 6.34), ("onnx-fp16", 16.6, 1.9, 6.316)])))
    return out


def _rects(scatter: CompareScatter) -> list[QRectF]:
    return [item.sceneBoundingRect() for item in scatter.labels.shown()]


def _assert_apart(rects: list[QRectF]) -> None:
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b), (a, b)


def test_place_keeps_labels_of_one_spot_apart_and_inside():
    anchors = [QPointF(200, 150) + QPointF(i, i % 2) for i in range(6)]  # six points within 6 px
    sizes = [QSizeF(90, 18)] * 6
    bounds = QRectF(0, 0, 500, 300)
    spots = place(anchors, sizes, bounds)
    assert all(s is not None for s in spots)
    rects = [s[0] for s in spots]
    _assert_apart(rects)
    assert all(bounds.contains(r) for r in rects)
    assert [s[1] for s in spots][:2] == [False, False]  # the first ones sit beside their point
    assert any(s[1] for s in spots)  # the crowd is stacked away, joined by a leader line


def test_place_leaves_out_what_has_no_room_and_avoids_the_legend():
    legend = QRectF(0, 0, 100, 100)
    spots = place([QPointF(50, 50)], [QSizeF(60, 18)], QRectF(0, 0, 100, 100), [legend])
    assert spots == [None]  # no room anywhere: left out (hover still names the point)
    spots = place([QPointF(50, 50)], [QSizeF(30, 12)], QRectF(0, 0, 200, 200), [QRectF(50, 0, 150, 200)])
    assert spots[0] is not None and spots[0][0].right() <= 50  # went left of the legend


@pytest.fixture
def scatter(qtbot):
    w = CompareScatter()
    qtbot.addWidget(w)
    w.resize(760, 300)  # the plot's size at 1024 x 700
    w.show()
    qtbot.waitExposed(w)
    return w


def test_close_points_get_every_label_and_none_overlap(qtbot, scatter):
    scatter.set_variants(_crowded(), "perplexity")
    scatter.select("multi")
    qtbot.wait(20)
    texts = scatter.labels.texts()
    # the selected variant first, in bold, then its four files by kind, then every other point
    assert texts[:5] == ["prune50-multi-quant", "int8 dynamic", "int8 static", "int4", "fp16"]
    assert "font-weight:700" in scatter.labels.items[0].textItem.toHtml()
    assert len(texts) == scatter.point_count() + scatter.artifact_count() == 5 + 7
    _assert_apart(_rects(scatter))
    plot_area = scatter.plot.getViewBox().sceneBoundingRect()
    assert all(plot_area.contains(r) for r in _rects(scatter))
    assert not any(r.intersects(scatter.legend.sceneBoundingRect()) for r in _rects(scatter))
    # a smaller plot re-places them: still apart, and the variant names still shown
    scatter.resize(600, 260)
    qtbot.wait(20)
    _assert_apart(_rects(scatter))
    assert {"prune50-multi-quant", "tiny-gpt (base)"} <= set(scatter.labels.texts())
    # the legend moved off the top-right corner, where the pruned variant's files are
    vb, legend = scatter.plot.getViewBox(), scatter.legend.sceneBoundingRect()
    xy = [(x, y) for _, x, y in scatter.points] + [(p.x, p.y) for p in scatter.artifact_points]
    assert not any(legend.contains(vb.mapViewToScene(QPointF(x, y))) for x, y in xy)
    assert tuple(scatter.legend.opts["offset"]) != (-6, 6)


def test_every_point_names_itself_on_hover(scatter):
    scatter.set_variants(_crowded(), "perplexity")
    spot = next(p for p in scatter.scatter.points() if p.data() == "q1")
    assert scatter._variant_tip(spot.pos().x(), spot.pos().y(), "q1").startswith("quantize-int4-tiny")
    assert scatter._artifact_tip(0, 0, 0).startswith("quantize-int8-dynamic-tiny · int8 dynamic")


def test_a_real_quantized_run_labels_its_close_points_apart(qtbot, tmp_path_factory, scatter):
    from engine.store import Workspace

    root, run_id = quantized_run(tmp_path_factory)
    variants = Workspace(root).variants()
    scatter.set_variants(variants, "perplexity")
    scatter.select(run_id)
    qtbot.wait(20)
    # baseline and the untrained variant share a perplexity and nearly a latency
    assert len(scatter.labels.shown()) == scatter.point_count() + scatter.artifact_count()
    _assert_apart(_rects(scatter))
