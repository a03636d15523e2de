"""The recipe flowchart: boxes follow the recipe, states colour them, the Run page ticks
them off from the job's StageStarted events, and both pages still fit 1024 × 700."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from engine.events import Failed, StageStarted
from engine.recipe import Recipe
from gui.main_window import MainWindow
from gui.pages.optimize_page import OptimizePage
from gui.pages.run_page import RunPage
from gui.widgets.recipe_flowchart import COLORS, RecipeFlowchart


def _recipe() -> Recipe:
    return Recipe.from_dict({
        "name": "flow", "methods": [{"type": "unstructured_prune", "amount": 0.5},
                                    {"type": "int8_dynamic"}],
        "train": {"epochs": 1, "strategy": "ddp", "nproc_per_node": 2, "precision": "bf16",
                  "clip_grad_norm": 1.0}})  # fmt: skip


def _fill(chart: RecipeFlowchart, key: str) -> str:
    i = next(i for i, n in enumerate(chart.nodes) if n.key == key)
    return chart._boxes[i][0].brush().color().name()


def test_nodes_follow_the_recipe_and_states_colour_them(qtbot):
    chart = RecipeFlowchart()
    qtbot.addWidget(chart)
    chart.show_recipe(_recipe())
    assert [n.key for n in chart.nodes] == ["load", "baseline", "methods", "train", "save",
                                            "export", "deploy", "check"]
    assert chart.states == ["pending"] * 8
    chart.set_stage("train", "running")
    assert _fill(chart, "train") == COLORS["running"][0]
    chart.set_stage("train", "done")
    assert chart._boxes[3][1].text().startswith("✓ Fine-tune")
    with pytest.raises(ValueError, match="state must be one of"):
        chart.set_stage("train", "half-done")
    assert 80 <= chart.height() <= 110
    chart.show_recipe(Recipe())  # a new recipe: its own boxes, all pending again
    assert "baseline" not in [n.key for n in chart.nodes] and set(chart.states) == {"pending"}


def test_run_page_ticks_stages_from_replayed_events(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page._show_recipe(_recipe())
    chart = page.flowchart
    for stage in ("load", "methods", "train"):  # baseline reused: no event, still ticked
        page._on_event(StageStarted(stage, ""))
    assert [chart.state_of(k) for k in ("load", "baseline", "methods", "train", "save")] == [
        "done", "done", "done", "running", "pending"]
    page._on_event(StageStarted("run", "run x in /tmp"))  # not a box: nothing moves
    assert chart.state_of("train") == "running"
    page._on_event(Failed("x", "boom"))
    assert chart.state_of("train") == "failed" and _fill(chart, "train") == COLORS["failed"][0]


def test_pages_with_the_flowchart_fit_1024_by_700(qtbot, app_state, tmp_path):
    app_state.set_recipe(_recipe())
    window = MainWindow(app_state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() == 700)
    for name in ("Optimize", "Run"):
        app_state.navigate.emit(name)
        page = window.stack.currentWidget().widget()
        assert isinstance(page, OptimizePage if name == "Optimize" else RunPage)
        qtbot.waitUntil(lambda p=page: p.flowchart.isVisible())
        area = window.stack.currentWidget()
        qtbot.waitUntil(lambda a=area: not a.horizontalScrollBar().isVisible())  # once laid out
        assert not area.verticalScrollBar().isVisible()  # nor taller than the window
        assert window.minimumSizeHint().width() <= 1024
        assert page.flowchart.width() <= 1024 and page.flowchart.height() <= 110
    preview = window.optimize_page.flowchart
    assert "methods" in [n.key for n in preview.nodes]
    app_state.set_recipe(_recipe().replace(methods=()))  # an edit: the preview redraws
    assert [n.key for n in preview.nodes] == ["load", "train", "save", "export", "check"]


def test_a_real_run_lights_each_stage_and_ends_all_ticked(qtbot, app_state):
    """The job's own StageStarted names match the boxes: each lights up as its stage starts."""
    page = RunPage(app_state)
    qtbot.addWidget(page)
    seen: list[tuple[str, str | None]] = []  # (stage, its box's state just after the event)
    page.runner.event.connect(lambda ev: isinstance(ev, StageStarted) and seen.append(
        (ev.stage, page.flowchart.state_of(ev.stage))))  # after the page's own slot
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start()
    assert ended.args[0].status == "finished"
    boxed = [(stage, state) for stage, state in seen if state is not None]
    assert [stage for stage, _ in boxed] == ["load", "methods", "train", "save", "check"] or \
        [stage for stage, _ in boxed] == ["load", "baseline", "methods", "train", "save", "check"]
    assert {state for _, state in boxed} == {"running"}
    assert set(page.flowchart.states) == {"done"}


def test_the_whole_flowchart_saves_as_png_even_when_scrolled(qtbot, tmp_path):
    from PySide6.QtGui import QImage

    chart = RecipeFlowchart()
    qtbot.addWidget(chart)
    chart.resize(200, chart.height())  # narrower than the drawing: it scrolls sideways
    chart.show_recipe(_recipe())
    chart.set_stage("train", "running")
    path = chart.save_png(tmp_path / "flow.png", scale=2.0)
    img = QImage(str(path))
    scene = chart.scene().sceneRect()
    assert (img.width(), img.height()) == (round(scene.width() * 2), round(scene.height() * 2))
    assert img.width() > 2 * 200  # wider than the view: the part scrolled out is in the file
    # the running box's fill is in the picture (the train box, drawn in its highlight colour)
    box = chart._boxes[3][0].sceneBoundingRect()
    x, y = (box.center().x() - scene.left()) * 2, (box.top() - scene.top() + 4) * 2
    assert img.pixelColor(round(x), round(y)).name() == COLORS["running"][0]
