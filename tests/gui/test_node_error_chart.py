"""Quantization-error tab: per-node SQNR bars and Keep-the-N-worst, on a real int8 run."""

from __future__ import annotations

import pytest

from engine.recipe import Recipe
from engine.store import Workspace
from tests.gui.quantized_run import RECIPE, quantized_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root, run_id = quantized_run(tmp_path_factory)
    return root, Workspace(root).get(run_id)


def test_one_bar_per_node_error_worst_at_the_top(qtbot, run):
    from gui.widgets.node_error_chart import NodeErrorChart

    _root, variant = run
    errors = variant.card["artifacts"][1]["summary"]["node_errors"]
    assert len(errors) > 3
    chart = NodeErrorChart()
    qtbot.addWidget(chart)
    chart.show_card(variant.card)
    opts = chart.bars.opts
    assert len(opts["y"]) == len(errors)
    assert list(opts["width"]) == pytest.approx([e["sqnr_db"] for e in errors])
    ticks = chart.plot.getAxis("left")._tickLevels[0]
    assert [t[1].strip() for t in ticks] == [e["layer"] or e["node"] for e in errors]
    assert chart.table.isHidden()  # no max_drop in this recipe: no exclusion steps


def test_keep_n_worst_emits_the_worst_layer_names(qtbot, run):
    from gui.widgets.node_error_chart import NodeErrorChart

    _root, variant = run
    errors = variant.card["artifacts"][1]["summary"]["node_errors"]
    chart = NodeErrorChart()
    qtbot.addWidget(chart)
    chart.show_card(variant.card)
    chart.count.setValue(2)
    assert chart.keep_btn.text() == "Keep the 2 worst in fp32"
    with qtbot.waitSignal(chart.keep_in_fp32) as got:
        chart.keep_btn.click()
    assert got.args[0] == [errors[0]["layer"], errors[1]["layer"]]


def test_the_page_puts_them_in_the_recipes_exclude_nodes(qtbot, run):
    from gui.pages.export_page import ExportPage
    from gui.state import AppState

    root, variant = run
    state = AppState(root, Recipe.load(RECIPE))
    page = ExportPage(state)
    qtbot.addWidget(page)
    state.select_variant(variant.id)
    chart = page.details.node_errors
    chart.count.setValue(3)
    with qtbot.waitSignal(page.keep_in_fp32):
        chart.keep_btn.click()
    names = chart.worst(3)
    assert tuple(state.recipe.methods[0].exclude_nodes) == tuple(names)
    assert "exclude_nodes" in chart.keep_note.text()
    chart.keep_btn.click()  # twice: no duplicates
    assert tuple(state.recipe.methods[0].exclude_nodes) == tuple(names)


def test_exclusion_steps_are_listed_when_the_search_ran(qtbot, run):
    from gui.widgets.node_error_chart import NodeErrorChart

    _root, variant = run
    card = dict(variant.card)
    art = dict(card["artifacts"][1])
    worst = art["summary"]["node_errors"][0]["layer"]
    # the engine's exclusion record shape, with this run's own numbers
    art["summary"] = {**art["summary"], "exclusion": {
        "steps": [{"excluded": [], "metrics": art["metrics"], "size_bytes": art["size_bytes"], "met": False},
                  {"excluded": [worst], "metrics": art["metrics"], "size_bytes": art["size_bytes"] + 1,
                   "met": True}],
        "met": True, "excluded": [worst], "message": "met after keeping 1 node in fp32"}}
    card["artifacts"] = [card["artifacts"][0], art]
    chart = NodeErrorChart()
    qtbot.addWidget(chart)
    chart.show_card(card)
    assert not chart.table.isHidden() and chart.table.rowCount() == 2
    assert chart.table.item(1, 0).text() == worst and chart.table.item(1, 3).text() == "yes"
    assert chart.table.item(0, 0).text().startswith("none")
    assert "perplexity" in chart.table.item(0, 1).text()


def test_long_layer_names_lose_their_shared_prefix_and_fit_the_axis(qtbot, run):
    import copy

    from PySide6.QtGui import QFontMetrics

    from gui.widgets.node_error_chart import NodeErrorChart

    _root, variant = run
    card = copy.deepcopy(variant.card)
    errors = card["artifacts"][1]["summary"]["node_errors"]
    for i, err in enumerate(errors):  # BERT's names: pyqtgraph dropped ticks this long
        err["layer"] = f"bert.encoder.layer.{i % 2}.attention.output.dense{i}"
    chart = NodeErrorChart()
    qtbot.addWidget(chart)
    chart.show_card(card)
    labels = [t[1].strip() for t in chart.plot.getAxis("left")._tickLevels[0]]
    assert labels[0] == "layer.0.attention.output.dense0" and len(set(labels)) == len(labels)
    axis = chart.plot.getAxis("left")
    widest = max(QFontMetrics(axis.style.get("tickFont") or chart.font()).horizontalAdvance(s)
                 for s in labels)  # fmt: skip
    assert axis.maximumWidth() >= widest
    assert chart.worst(1) == ["bert.encoder.layer.0.attention.output.dense0"]  # full names kept


def test_nodes_sharing_a_layer_are_told_apart():
    from gui.widgets.node_error_chart import distinct_labels

    errors = [{"layer": "blocks.0.attn", "node": "/blocks.0/attn/MatMul"},
              {"layer": "blocks.0.attn", "node": "/blocks.0/attn/MatMul_1"},
              {"layer": "blocks.0.mlp.fc", "node": "/blocks.0/mlp/fc/MatMul"}]  # fmt: skip
    assert distinct_labels(errors) == [
        "blocks.0.attn · MatMul", "blocks.0.attn · MatMul_1", "blocks.0.mlp.fc"]
