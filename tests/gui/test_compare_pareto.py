"""Compare plot: the Pareto front's step line, dimmed dominated points, x axes and filters."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from engine.analysis.profile_store import save_profile  # noqa: E402
from engine.store import Variant  # noqa: E402
from gui.widgets.compare_artifact_points import DIM_ALPHA  # noqa: E402
from gui.widgets.compare_plot_box import ComparePlotBox  # noqa: E402

GPT = "tiny-gpt: GPT-style causal LM, 4 layers, d=128, 0.88M params"


def _variant(run_id, name, recipe_methods, onnx, ppl, folder, desc=GPT, artifacts=(), checks=()):
    card = {"model": {"description": desc, "params": 1e6, "flops": 3e7},
            "onnx": {"latency_ms_p50": onnx[0], "latency_ms_p95": onnx[1], "size_bytes": onnx[2]},
            "metrics": {"perplexity": ppl}, "artifacts": list(artifacts),
            "target_checks": list(checks), "files": {"folder": str(folder / run_id)}}
    (folder / run_id).mkdir()
    return Variant(run_id, None, name, "finished", f"name: {name}\nmethods: {recipe_methods}\n", card)


def _file(kind, p50, p95, size, ppl):
    return {"kind": kind, "latency_ms_p50": p50, "latency_ms_p95": p95, "size_bytes": size,
            "metrics": {"perplexity": ppl}}


@pytest.fixture
def variants(tmp_path):
    """base, a pruned variant, an int8 variant with its two files, a second model family."""
    int8 = _variant("b", "int8", "[{type: int8_dynamic}]", (2.0, 6.0, 4e6), 6.47, tmp_path,
                    artifacts=[_file("onnx-fp32", 1.5, 1.6, 3.6e6, 6.47),
                               _file("onnx-int8-dynamic", 1.45, 1.5, 1.0e6, 6.46)],
                    checks=[{"target": "edge", "artifact": "onnx-fp32", "passed": False},
                            {"target": "edge", "artifact": "onnx-int8-dynamic", "passed": True}])
    # its profile: energy per inference of each ONNX file (the energy axis reads it)
    save_profile(type("W", (), {"run_dir": lambda self, _id: tmp_path / "b"})(), "b", {
        "schema": 1, "energy": [{"artifact": "onnx-fp32", "joules_per_inference": 0.002},
                                {"artifact": "onnx-int8-dynamic", "joules_per_inference": 0.001},
                                {"artifact": "pytorch", "joules_per_inference": 0.01}]})
    return [
        _variant("base", "base", "[]", (10.0, 14.0, 4e6), 6.0, tmp_path),
        _variant("a", "pruned", "[{type: unstructured_prune, amount: 0.6}]", (2.0, 6.0, 4e6), 7.5, tmp_path),
        int8,
        _variant("hf", "gpt2-hf", "[]", (30.0, 31.0, 0.5e6), 5.0, tmp_path,
                 desc="gpt2-hf: GPT2LMHeadModel (causal-lm), 0.10M params"),
    ]


@pytest.fixture
def box(qtbot, variants):
    w = ComparePlotBox()
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    w.scatter.set_variants(variants, "perplexity", "latency")
    return w


def _plotted(scatter):
    """{(x, y): alpha} of every spot the scatter items really draw."""
    out = {}
    for item in (scatter.scatter, scatter.artifact_scatter):
        for spot in item.points():
            out[(round(spot.pos().x(), 6), round(spot.pos().y(), 6))] = spot.brush().color().alpha()
    return out


def _front_vertices(scatter):
    """The step line's vertices that are plotted points (the others are its corners)."""
    xs, ys = scatter.front_curve.getData()
    plotted = _plotted(scatter)
    return {(round(x, 6), round(y, 6)) for x, y in zip(xs, ys, strict=True)} & set(plotted)


def _set_axis(box, key):
    box.axis_picker.setCurrentIndex(box.axis_picker.findData(key))
    box.scatter.set_variants(box.scatter._variants, "perplexity", box.axis())


def test_front_line_goes_through_exactly_the_front_and_dims_the_rest(box):
    s = box.scatter
    plotted = _plotted(s)
    assert len(plotted) == 5  # 4 variants' points + the int8 file
    front = {(1.45, 6.46), (10.0, 6.0), (30.0, 5.0)}  # int8 file, base, the other family's model
    assert _front_vertices(s) == front
    assert {p for p, alpha in plotted.items() if alpha == DIM_ALPHA} == set(plotted) - front
    assert all(alpha == 255 for p, alpha in plotted.items() if p in front)
    assert "3 of 5 on the front" in s.filters.summary.text()
    assert "Pareto front" in [label.text for _, label in s.legend.items]
    # hovering says which side of the front a point is on
    assert "on the Pareto front" in s._artifact_tip(1.45, 6.46, 0)
    assert "off the Pareto front" in s._variant_tip(2.0, 7.5, "a")
    assert "on the Pareto front" in s._variant_tip(10.0, 6.0, "base")


def test_switching_the_x_axis_changes_the_front(box):
    _set_axis(box, "size")
    s = box.scatter
    assert "size" in s.plot.getAxis("bottom").labelText
    assert _front_vertices(s) == {(0.5, 5.0)}  # the small model is smaller and better than all
    _set_axis(box, "latency_p95")  # the int8 variant's fp32 file at p95 1.6 ms, its int8 at 1.5
    assert _front_vertices(box.scatter) == {(1.5, 6.46), (14.0, 6.0), (31.0, 5.0)}
    _set_axis(box, "energy")  # only the profiled variant: its two files, in mJ
    assert set(_plotted(box.scatter)) == {(2.0, 6.47), (1.0, 6.46)}
    assert _front_vertices(box.scatter) == {(1.0, 6.46)}


def test_filters_hide_points_and_the_front_follows(box):
    s, f = box.scatter, box.scatter.filters
    f.family.setCurrentIndex(f.family.findData("GPT-style causal LM"))
    assert (30.0, 5.0) not in _plotted(s)
    assert _front_vertices(s) == {(1.45, 6.46), (10.0, 6.0)}
    assert "1 hidden" in f.summary.text()
    f.family.setCurrentIndex(0)
    f.method.setCurrentIndex(f.method.findData("int8_dynamic"))
    assert set(_plotted(s)) == {(1.5, 6.47), (1.45, 6.46)}  # the int8 variant's two files
    f.method.setCurrentIndex(0)
    assert f.target.isEnabled() and "passed / failed" in f.target.toolTip()
    f.target.setCurrentIndex(f.target.findData("pass:edge"))
    assert set(_plotted(s)) == {(1.45, 6.46)}  # only the int8 file passed the edge check
    assert [label.text for _, label in s.legend.items] == ["int8 dynamic file"]  # no variant point
    f.target.setCurrentIndex(f.target.findData("fail:edge"))
    assert set(_plotted(s)) == {(1.5, 6.47)}


def test_front_off_draws_no_line_and_dims_nothing(box):
    box.scatter.filters.front.setChecked(False)
    assert box.scatter.front_curve is None
    assert set(_plotted(box.scatter).values()) == {255}


def test_family_and_method_read_from_the_card_and_recipe():
    from gui.widgets.compare_pareto_filters import family_of, method_types

    assert family_of({"model": {"description": GPT}}) == "GPT-style causal LM"
    assert family_of({"model": {"description": "gpt2: GPT2LMHeadModel (causal-lm), 0.1M params"}}) == "GPT2LMHeadModel"
    assert family_of({}) == "unknown model"
    steps = "methods: [{type: unstructured_prune}, {type: int8_dynamic}]\n"
    assert method_types(Variant("x", None, "x", "finished", steps, {})) == ["unstructured_prune", "int8_dynamic"]
    # a recipe that does not parse: the card's method label names the steps
    label = {"method": "unstructured_prune(amount=0.5) + int4_weight_only()"}
    assert method_types(Variant("y", None, "y", "finished", "methods: [", label)) == ["unstructured_prune",
                                                                                      "int4_weight_only"]


def test_target_filter_off_until_a_variant_was_checked(box, variants):
    unchecked = [v for v in variants if v.id != "b"]
    box.scatter.set_variants(unchecked, "perplexity", "latency")
    f = box.scatter.filters
    assert not f.target.isEnabled() and "No variant has been checked" in f.target.toolTip()
    box.scatter.set_variants(variants, "perplexity", "latency")
    assert f.target.isEnabled() and f.target.findData("fail:edge") > 0
