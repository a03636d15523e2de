"""Activation ranges on the Export page: the chosen tensor's recorded histogram and its lines,
on a real int8 run (the shared dynamic-int8 run of the tiny GPT)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.recipe import Recipe
from engine.store import Workspace
from tests.gui.quantized_run import RECIPE, quantized_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root, run_id = quantized_run(tmp_path_factory)
    variant = Workspace(root).get(run_id)
    art = next(a for a in variant.card["artifacts"] if "int8" in a["kind"])
    path = Path(art["path"]).parent / art["summary"]["activation_ranges"]
    return root, variant, art, json.loads(path.read_text())


@pytest.fixture
def page(qtbot, run):
    from gui.pages.export_page import ExportPage
    from gui.state import AppState

    root, variant, _art, _record = run
    state = AppState(root, Recipe.load(RECIPE))
    page = ExportPage(state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    state.select_variant(variant.id)
    return page


def _drawn(view) -> tuple[list[float], list[float]]:
    """(bar heights, x of every vertical line) as the plot holds them now."""
    return list(view.bars.opts["height"]), sorted(float(line.value()) for line in view.lines)


def _expected_lines(t: dict) -> list[float]:
    xs = [t["low"], t["high"], t["cut_low"], t["cut_high"]]
    xs += [x for pair in t.get("batch_ranges") or [] for x in pair]
    return sorted(float(x) for x in xs)


def test_it_shows_the_worst_nodes_input_with_its_range_lines(page, run):
    _root, _variant, art, record = run
    view = page.details.ranges
    assert view.picker.count() == len(record["tensors"]) > 1
    fed = {n for t in record["tensors"] for n in t["nodes"]}
    worst = next(e["node"] for e in art["summary"]["node_errors"] if e["node"] in fed)
    first = record["tensors"][0]
    assert worst in first["nodes"] and view.current()["tensor"] == first["tensor"]
    heights, lines = _drawn(view)
    assert heights == pytest.approx(np.log10(np.asarray(first["counts"]) + 1.0))
    assert lines == pytest.approx(_expected_lines(first))
    assert "Dynamic int8 stores no range" in view.source.text()  # says where the lines come from
    assert "of the quantizer's range" in view.clip.text()


def test_choosing_another_tensor_draws_its_histogram(page, run):
    *_, record = run
    view = page.details.ranges
    before = _drawn(view)
    other = record["tensors"][1]
    assert view.select_tensor(other["tensor"])
    heights, lines = _drawn(view)
    assert heights == pytest.approx(np.log10(np.asarray(other["counts"]) + 1.0))
    assert lines == pytest.approx(_expected_lines(other))
    assert (heights, lines) != before


def test_clicking_a_bar_shows_that_nodes_input(page, run, qtbot):
    _root, _variant, art, record = run
    details = page.details
    page.show()
    details.tabs.setCurrentWidget(details.node_errors_tab)
    view, chart = details.ranges, details.node_errors
    shown = view.current()["tensor"]
    row, target = next(
        (k, t) for k, e in enumerate(art["summary"]["node_errors"])
        for t in record["tensors"] if e["node"] in t["nodes"] and t["tensor"] != shown
    )  # fmt: skip
    details.node_errors_tab.ensureWidgetVisible(chart.plot, 0, 0)
    box = chart.plot.getPlotItem().vb
    x = float(chart.bars.opts["width"][row]) / 2  # the middle of that node's bar
    at = chart.plot.mapFromScene(box.mapViewToScene(QPointF(x, row)))
    qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: view.current()["tensor"] == target["tensor"], timeout=2000)
    assert view.picker.currentText().endswith(target["tensor"])
