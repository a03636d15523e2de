"""A distilled student next to its teacher on the Compare page, its teacher line on the Export
page, and the Distill step's teacher picked from the workspace on the Optimize page; on real
tiny distill runs (tests/engine/distill/teacher_runs.py)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from engine.metric_text import fmt_metric
from engine.recipe import Recipe
from engine.store import Workspace
from gui.pages.compare_page import ComparePage
from gui.pages.export_page import ExportPage
from gui.pages.optimize_page import OptimizePage
from gui.state import AppState
from gui.widgets.teacher_picker import VariantPathPicker, variant_choices
from tests.engine.distill.teacher_runs import teacher_runs


@pytest.fixture(scope="module")
def runs():
    return teacher_runs()


def _page(qtbot, cls, runs, width=1280, height=800):
    page = cls(AppState(runs.root))
    qtbot.addWidget(page)
    page.resize(width, height)
    page.show()
    return page


def _k(n: float) -> str:
    return f"{n / 1e3:.1f}k"


def test_compare_shows_the_student_next_to_its_baseline_teacher(qtbot, runs):
    page = _page(qtbot, ComparePage, runs)
    base = Workspace(runs.root).get(runs.student.parent_id)
    assert page.teacher.isHidden()  # nothing selected: no panel, the plot has the width
    page.state.select_variant(runs.student.run_id)
    assert page.teacher.isVisible()
    rows = {row[0]: row[1:] for row in page.teacher.texts()}
    t_params, s_params = base.card["model"]["params"], runs.student.card["model"]["params"]
    assert rows["Parameters"] == (_k(t_params), _k(s_params), f"{s_params / t_params:.2f}× params")
    t_mb, s_mb = base.card["onnx"]["size_bytes"] / 1e6, runs.student.card["onnx"]["size_bytes"] / 1e6
    assert rows["ONNX file"] == (f"{t_mb:.2f} MB", f"{s_mb:.2f} MB", f"{s_mb / t_mb:.2f}× size")
    assert rows["Latency p50"][2].endswith(("× faster", "× slower"))
    t_ppl = runs.student.card["steps"][0]["teacher_metrics"]["perplexity"]  # on the student's data
    s_ppl = runs.student.card["metrics"]["perplexity"]
    assert rows["Perplexity"] == (fmt_metric("perplexity", t_ppl), fmt_metric("perplexity", s_ppl),
                                  f"{s_ppl / t_ppl:.2f}× teacher's")  # fmt: skip
    assert f"{base.name} → {runs.student.card['name']}" in page.teacher.heading()
    # the teacher is one click away; it was not distilled, so the panel goes
    qtbot.mouseClick(page.teacher.select_btn, Qt.MouseButton.LeftButton)
    assert page.state.selected_variant == base.id and page.teacher.isHidden()


def test_compare_reads_a_variant_teacher_from_its_run(qtbot, runs):
    page = _page(qtbot, ComparePage, runs, 1024, 700)
    page.state.select_variant(runs.pupil.run_id)
    rows = {row[0]: row[1:] for row in page.teacher.texts()}
    assert rows["Parameters"][0] == _k(runs.student.card["model"]["params"])
    assert rows["Latency p50"][0] == f"{runs.student.card['onnx']['latency_ms_p50']:.2f} ms"
    assert runs.student.card["name"] in page.teacher.heading()
    # in a 1024-px window (the page gets ~880 beside the navigation) panel and plot share the
    # width: the page needs no more than that with the panel shown
    assert page.minimumSizeHint().width() <= 880
    assert page.teacher.mapTo(page, page.teacher.rect().bottomRight()).x() <= page.width()
    assert page.plot_box.width() >= 400


def test_compare_outside_teacher_uses_the_steps_record(qtbot, runs):
    page = _page(qtbot, ComparePage, runs)
    page.state.select_variant(runs.outsider.run_id)
    rows = {row[0]: row[1:] for row in page.teacher.texts()}
    step = runs.outsider.card["steps"][0]
    assert rows["Parameters"][0] == _k(step["teacher_params"])
    assert rows["Size in memory"][0] == f"{step['teacher_bytes'] / 1e6:.2f} MB"
    assert rows["Latency p50"][0] == "not measured"
    assert "not a run of this workspace" in page.teacher.heading()
    assert page.teacher.select_btn.isHidden()


def test_export_details_show_the_teacher_line_and_jump_to_it(qtbot, runs):
    page = _page(qtbot, ExportPage, runs, 1024, 700)
    base = Workspace(runs.root).get(runs.student.parent_id)
    page.state.select_variant(runs.student.run_id)
    line = page.details.teacher
    ppl = fmt_metric("perplexity", runs.student.card["steps"][0]["teacher_metrics"]["perplexity"])
    assert line.isVisible()
    assert line.text() == f"Teacher: {base.name} (perplexity {ppl}) — {runs.student.card['steps'][0]['teacher']}"
    qtbot.mouseClick(line.button, Qt.MouseButton.LeftButton)
    assert page.state.selected_variant == base.id and line.isHidden()
    page.state.select_variant(runs.pupil.run_id)
    assert line.text().startswith(f"Teacher: {runs.student.card['name']} (perplexity ")


def test_a_student_not_exported_yet_still_shows_its_teacher(qtbot, runs):
    page = _page(qtbot, ExportPage, runs, 1024, 700)
    page.state.select_variant(runs.outsider.run_id)  # distilled, export disabled
    assert page.stack.currentWidget() is page.not_exported
    line = page.details.teacher
    assert line.isVisible() and line.text().startswith("Teacher: ")
    assert line.button.isHidden()  # its teacher is the built-in model, not a run to jump to
    page.state.select_variant(runs.student.parent_id)  # the baseline was not distilled
    assert line.isHidden()


def _optimize(qtbot, runs, teacher: str) -> tuple[OptimizePage, VariantPathPicker]:
    recipe = Recipe.from_yaml(f"""
name: taught
model: {{source: builtin, path: tiny-gpt}}
data: {{source: builtin, path: shakespeare}}
methods:
  - {{type: distill, student: layer_drop, teacher: {teacher}}}
train: {{epochs: 1, max_steps: 4}}
""")
    state = AppState(runs.root, recipe)
    page = OptimizePage(state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    (picker,) = page.findChildren(VariantPathPicker)
    return page, picker


def test_optimize_teacher_variant_is_picked_from_the_workspace(qtbot, runs):
    name = runs.student.card["name"]
    page, picker = _optimize(qtbot, runs, f"{{source: variant, path: {name}}}")
    inner = picker.form
    assert picker.isVisible() and not inner.editor("path").isVisible()
    finished = Workspace(runs.root).variants("finished")
    assert [picker.itemData(i) for i in range(1, picker.count())] == [v.id for v in reversed(finished)]
    assert picker.currentData() == runs.student.run_id  # the recipe's name, resolved
    picker.activated.emit(picker.findData(runs.pupil.run_id))
    assert page.state.recipe.methods[0].teacher_model.path == runs.pupil.run_id
    source = inner.editor("source")
    assert isinstance(source, QComboBox)
    source.setCurrentText("hf")  # a folder path: the text box again
    assert picker.isHidden() and inner.editor("path").isVisible()


def test_optimize_teacher_path_naming_no_variant_stays_visible(qtbot, runs):
    _page_, picker = _optimize(qtbot, runs, "{source: variant, path: gone-run}")
    assert picker.currentData() == "gone-run"
    assert picker.currentText().startswith("gone-run (no finished variant")


def test_variant_choices_tell_reruns_of_one_name_apart(tmp_path):
    ws = Workspace(tmp_path)
    runs = [ws.new_run(name, f"name: {name}\n") for name in ("a", "b", "a")]
    for run in runs:
        ws.finish(run.id, {"id": run.id, "name": run.name})
    assert variant_choices(ws) == [(f"a · {runs[2].id[-6:]}", runs[2].id), ("b", runs[1].id),
                                   (f"a · {runs[0].id[-6:]}", runs[0].id)]  # fmt: skip
