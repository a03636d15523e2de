"""The Run page's Quantization tab on the events of one real static-int8 run: calibration
progress of exactly the requested samples, the per-node error chart filled the moment the
errors arrive, and each exclusion-search round as a table row."""

from __future__ import annotations

import os

import pytest

from engine.events import (
    CalibrationProgress,
    ExclusionStep,
    Finished,
    NodeErrors,
    event_from_json,
    event_to_json,
)
from gui.widgets.node_error_chart import distinct_labels
from tests.gui.conftest import fast_recipe
from tests.gui.static_quantized_run import static_quantized_run, static_recipe


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return static_quantized_run(tmp_path_factory)


def _page(qtbot, root):
    from gui.pages.run_page import RunPage
    from gui.state import AppState

    page = RunPage(AppState(root, static_recipe()))
    qtbot.addWidget(page)
    page.resize(1024, 640)
    page.show()
    return page


def test_static_run_calibrates_on_exactly_the_requested_samples_and_reports_it(run):
    _root, result, events = run
    (art,) = [a for a in result.card["artifacts"] if a["kind"] == "onnx-int8-static"]
    requested = art["summary"]["calibration"]["requested"]
    first = [e for e in events if isinstance(e, CalibrationProgress) and e.phase == "calibration"
             and e.attempt == 1]  # fmt: skip
    assert first[0].done == 0 and first[-1].done == first[-1].total == requested == 64
    assert [e.done for e in first] == sorted(e.done for e in first)
    assert art["summary"]["calibration"]["samples_fed"] == requested
    (rows,) = [e for e in events if isinstance(e, NodeErrors)]
    assert rows.errors == art["summary"]["node_errors"] and len(rows.errors) > 3
    rounds = [e for e in events if isinstance(e, ExclusionStep)]
    assert [e.excluded for e in rounds] == [s["excluded"] for s in art["summary"]["exclusion"]["steps"]]
    # the GUI's process runner reads these as JSON lines: every one comes back equal
    for ev in events:
        assert event_from_json(event_to_json(ev)) == ev


def test_quantization_tab_only_for_a_recipe_with_an_int8_step(qtbot, run):
    page = _page(qtbot, run[0])
    assert page.plot_tabs.isTabVisible(1) and page.plot_tabs.tabBar().isVisible()
    assert "int8 static QDQ, minmax, 64 samples" in page.quantize_panel.heading.text()
    page._show_recipe(fast_recipe())  # a pruning recipe: the plots alone, no tab bar
    assert not page.plot_tabs.isTabVisible(1) and not page.plot_tabs.tabBar().isVisible()
    assert page.plot_tabs.currentWidget() is page.plots


def test_run_page_fills_the_chart_as_the_events_arrive(qtbot, run, tmp_path):
    root, result, events = run
    page = _page(qtbot, root)
    panel, chart = page.quantize_panel, page.quantize_panel.chart
    for ev in events:
        page.runner.event.emit(ev)  # as the job thread's events reach the page
        if isinstance(ev, CalibrationProgress) and ev.phase == "calibration" and ev.attempt == 1:
            assert f"{ev.done}/64 training samples" in panel.phase.text()
            assert panel.bar.value() == int(1000 * ev.done / 64)
            assert page.plot_tabs.currentWidget() is panel and chart.isHidden()
        if isinstance(ev, NodeErrors):  # rows on screen before the job goes on
            assert chart.isVisibleTo(page) and panel.hint.isHidden()
            ticks = [t[1].strip() for t in chart.plot.getAxis("left")._tickLevels[0]]
            assert ticks == distinct_labels(ev.errors)  # layer names, told apart where shared
            assert [t.split(" · ")[0] for t in ticks] == [e["layer"] or e["node"] for e in ev.errors]
            assert list(chart.bars.opts["width"]) == pytest.approx([e["sqnr_db"] for e in ev.errors])
        if isinstance(ev, Finished):
            break
    rounds = [e for e in events if isinstance(e, ExclusionStep)]
    assert rounds and chart.table.rowCount() == len(rounds) and chart.table.isVisibleTo(page)
    assert chart.table.item(0, 0).text() == "none (all quantized)"
    assert chart.table.item(len(rounds) - 1, 3).text() == ("yes" if rounds[-1].met else "no")
    assert "✔ calibration: 64/64" in panel.finished.text() and "✔ per-node error" in panel.finished.text()
    assert chart.keep_btn.isHidden()  # editing the recipe is the Export page's button
    page.runner.finished.emit(result)
    assert panel.bar.isHidden() and chart.isVisibleTo(page)
    qtbot.wait(50)  # the layout requests the events posted, as the running app would
    path = os.path.join(os.environ.get("WB_SHOTS") or str(tmp_path), "run_quantize_panel.png")
    assert page.grab().save(path) and os.path.getsize(path) > 10_000
