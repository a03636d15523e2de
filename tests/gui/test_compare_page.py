"""Compare page on a workspace built by real tiny jobs: rows, numeric sort, scatter, selection."""

from __future__ import annotations

import atexit
import csv
import functools
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from engine.job import Job  # noqa: E402
from engine.recipe import Recipe  # noqa: E402
from engine.registry import method_config_class  # noqa: E402
from engine.store import Variant, Workspace  # noqa: E402
from gui.pages.compare_page import ComparePage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.compare_table import STATUS_COLORS, CompareModel, NumericSortProxy  # noqa: E402

TINY = """
name: prune-50
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 100}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
train: {epochs: 1, max_steps: 4, batch_size: 8, lr: 0.001, eval_every: 4, eval_batches: 2, log_every: 2}
export: {parity_batches: 1, latency_runs: 3, latency_seq: 32, opset: 17}
"""


@functools.cache
def tiny_workspace() -> Path:
    """Two real tiny jobs (baseline + prune-50 + prune-80) run once per test process.

    Shared with test_export_page.py so the jobs run once however the tests are selected.
    Opset 17 exports with the TorchScript exporter, seconds where dynamo takes tens (the
    pages show the files' numbers whichever exporter wrote them).
    """
    root = Path(tempfile.mkdtemp(prefix="wb-gui-ws-"))
    atexit.register(shutil.rmtree, root, True)
    first = Job(Recipe.from_yaml(TINY), workspace=root).run()
    assert first.ok, first.error
    prune = method_config_class("unstructured_prune")
    second = Recipe.from_yaml(TINY).replace(
        name="prune-80", methods=(prune(amount=0.8, scope="global"),)
    )
    result = Job(second, workspace=root).run()
    assert result.ok, result.error
    return root


@pytest.fixture(scope="module")
def workspace() -> Path:
    return tiny_workspace()


@pytest.fixture
def page(qtbot, workspace):
    w = ComparePage(AppState(workspace))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


def _column(page: ComparePage, name: str, role=Qt.ItemDataRole.DisplayRole) -> list:
    col = page.model.column(name)
    assert col >= 0, f"no column {name}: {page.model.columns}"
    return [page.proxy.index(r, col).data(role) for r in range(page.proxy.rowCount())]


def test_one_row_per_variant_and_one_point_per_exported_variant(page, workspace):
    variants = Workspace(workspace).variants()
    assert [v.status for v in variants] == ["finished"] * 3
    assert page.proxy.rowCount() == 3
    assert sorted(_column(page, "Name")) == sorted(v.name for v in variants)
    assert page.scatter.point_count() == 3
    # one parent → child arrow for each pruned variant
    assert len(page.scatter._arrows) == 2
    assert page.metric_picker.isHidden()  # every variant has perplexity: nothing to pick
    baseline = next(v for v in variants if v.parent is None)
    # ⚠: the fine-tuned children of an untrained baseline (see the fair-parent tests)
    assert _column(page, "Parent").count(f"{baseline.name} ⚠") == 2


def test_columns_sort_numerically_with_missing_values_last(page, workspace):
    ws = Workspace(workspace)
    failed = ws.new_run("broken", "name: broken\n")
    ws.mark(failed.id, "failed", error="prune.amount must be in [0, 1), got 1.5")
    try:
        page.refresh()
        page.view.sortByColumn(page.model.column("Non-zero"), Qt.SortOrder.DescendingOrder)
        values = _column(page, "Non-zero", Qt.ItemDataRole.UserRole)
        assert values[-1] is None and values[:-1] == sorted(values[:-1], reverse=True)
        page.view.sortByColumn(page.model.column("Sparsity"), Qt.SortOrder.AscendingOrder)
        values = _column(page, "Sparsity", Qt.ItemDataRole.UserRole)
        assert values[-1] is None and values[:-1] == sorted(values[:-1])
        assert values[:-1] == pytest.approx([0.0, 0.5, 0.8], abs=0.01)
        row = _column(page, "Name").index("broken")
        color = page.proxy.index(row, 0).data(Qt.ItemDataRole.ForegroundRole).color().name()
        assert color == STATUS_COLORS["failed"]
        assert "1.5" in page.proxy.index(row, page.model.column("Status")).data(Qt.ItemDataRole.ToolTipRole)
        assert page.scatter.point_count() == 3  # a failed run has nothing to plot
    finally:
        ws.delete(failed.id)


def test_params_sort_by_number_not_text():
    """9,000 < 10,000 although '9.00k' > '10.00k' as text."""
    model, proxy = CompareModel(), NumericSortProxy()
    proxy.setSourceModel(model)
    cards = [{"model": {"params": n, "nonzero_params": n}} for n in (10_000, 9_000, 200_000)]
    model.set_variants(
        [Variant(f"id{i}", None, f"v{i}", "finished", "", card) for i, card in enumerate(cards)]
    )
    proxy.sort(model.column("Params"), Qt.SortOrder.AscendingOrder)
    shown = [proxy.index(r, model.column("Params")).data() for r in range(3)]
    assert shown == ["9.00k", "10.00k", "200.00k"]


def test_selecting_a_row_selects_the_variant_and_tints_its_parent(qtbot, page, workspace):
    variants = Workspace(workspace).variants()
    child = next(v for v in variants if v.name == "prune-80")
    row = _column(page, "Name").index("prune-80")
    with qtbot.waitSignal(page.state.selected_variant_changed) as sig:
        page.select_row(row)
    assert sig.args == [child.id] and page.state.selected_variant == child.id
    parent_row = _column(page, "ID").index(child.parent)
    assert page.proxy.index(parent_row, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert page.scatter._selected == child.id
    # the other way round: a selection made elsewhere moves the table
    other = next(v for v in variants if v.name == "prune-50")
    page.state.select_variant(other.id)
    assert page.view.currentIndex().row() == _column(page, "ID").index(other.id)


def test_double_click_opens_the_export_page(qtbot, page):
    index = page.proxy.index(0, 0)
    rect = page.view.visualRect(index)
    viewport, left = page.view.viewport(), Qt.MouseButton.LeftButton
    with qtbot.waitSignal(page.state.navigate) as sig:
        # Qt only reports a double-click on the index the first press landed on
        qtbot.mouseClick(viewport, left, pos=rect.center())
        qtbot.mouseDClick(viewport, left, pos=rect.center())
    assert sig.args == ["Export"]
    assert page.state.selected_variant == _column(page, "ID")[0]


def test_refreshes_when_variants_change_and_shows_empty_state(qtbot, tmp_path):
    state = AppState(tmp_path / "empty")
    w = ComparePage(state)
    qtbot.addWidget(w)
    assert w.table_stack.currentWidget() is w.empty and w.plot_box.isHidden()
    ws = Workspace(tmp_path / "empty")
    ws.mark(ws.new_run("started", "name: started\n").id, "cancelled")
    state.variants_changed.emit()
    assert w.proxy.rowCount() == 1 and w.table_stack.currentWidget() is w.view


def test_method_column_says_each_method_in_a_few_words():
    from gui.widgets.compare_table import compact_method

    assert compact_method("unstructured_prune(criterion=magnitude, amount=0.8, scope=global, "
                          "schedule=gradual)") == "unstructured 80% gradual"
    assert compact_method("nm_prune(n=2, m=4, criterion=magnitude)") == "2:4"
    assert compact_method("structured_prune(target=heads, amount=0.25) + structured_prune(target=ffn, "
                          "amount=0.5)") == "structured heads 25% + structured ffn 50%"
    assert compact_method("unstructured_prune(criterion=taylor, mode=threshold, threshold=0.02)") == \
        "unstructured |w|<0.02 taylor"
    assert compact_method("none") == "none"


def test_status_shows_warnings_and_missing_files_in_colour(qapp, tmp_path):
    import shutil

    from PySide6.QtCore import Qt

    from engine.store import Workspace
    from gui.widgets.compare_table import COLUMNS, MISSING_COLOR, WARNING_COLOR, CompareModel

    ws = Workspace(tmp_path)
    warned = ws.new_run("warned", "name: warned\n")
    ws.finish(warned.id, {"id": warned.id, "warnings": ["training diverged: the loss ended at 99"]})
    gone = ws.new_run("gone", "name: gone\n")
    ws.finish(gone.id, {"id": gone.id})
    shutil.rmtree(ws.run_dir(gone.id))
    model = CompareModel()
    model.set_variants(ws.variants())
    col = COLUMNS.index("Status")
    cells = {model.variants[r].name: model.index(r, col) for r in range(2)}
    assert cells["warned"].data() == "finished, 1 warning"
    assert cells["gone"].data() == "finished, files missing"
    assert cells["warned"].data(Qt.ItemDataRole.ForegroundRole).color().name() == WARNING_COLOR
    assert cells["gone"].data(Qt.ItemDataRole.ForegroundRole).color().name() == MISSING_COLOR
    assert "training diverged" in cells["warned"].data(Qt.ItemDataRole.ToolTipRole)
    assert "run folder" in cells["gone"].data(Qt.ItemDataRole.ToolTipRole)


# -- metrics, deltas and the fair parent ---------------------------------------------------

BERT = """
name: bert-prune-50
model: {source: builtin, path: tiny-bert}
data: {source: builtin, path: bbc-news, max_length: 32, max_samples: 120}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
train: {epochs: 1, max_steps: 4, batch_size: 8, lr: 0.001, eval_every: 4, eval_batches: 2, log_every: 2}
export: {parity_batches: 1, latency_runs: 3, latency_seq: 32, opset: 17}
"""


@pytest.fixture(scope="module")
def own_workspace(tmp_path_factory) -> Path:
    """A copy of the shared tiny workspace that these tests may change."""
    root = tmp_path_factory.mktemp("compare-edit") / "ws"
    shutil.copytree(tiny_workspace(), root)
    return root


def _page_on(qtbot, root: Path) -> ComparePage:
    w = ComparePage(AppState(root))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    return w


def test_metric_cells_show_the_change_against_the_parent(page, workspace):
    from engine.metric_text import fmt_delta, fmt_metric
    from gui.pages.run_page import summary_text

    variants = Workspace(workspace).variants()
    base = next(v for v in variants if v.parent is None)
    assert "Perplexity" in page.model.columns and "Accuracy" not in page.model.columns
    names, cells = _column(page, "Name"), _column(page, "Perplexity")
    for v in variants:
        value = v.card["metrics"]["perplexity"]
        text = cells[names.index(v.name)]
        if v.parent is None:
            assert text == fmt_metric("perplexity", value)
        else:
            delta = fmt_delta("perplexity", value - base.card["metrics"]["perplexity"])
            assert text == f"{fmt_metric('perplexity', value)} ({delta})"
        # the Run page writes the same number the same way
        assert summary_text({"metrics.perplexity": value}) == f"perplexity {fmt_metric('perplexity', value)}"
    # sorting the metric column sorts by the value, not by the text with its delta
    page.view.sortByColumn(page.model.column("Perplexity"), Qt.SortOrder.AscendingOrder)
    raw = _column(page, "Perplexity", Qt.ItemDataRole.UserRole)
    assert raw == sorted(raw)


def test_untrained_parent_is_flagged_and_the_control_recipe_is_offered(qtbot, page, workspace):
    from engine.fair_parent import PARENT_NOTE

    child = next(v for v in Workspace(workspace).variants() if v.name == "prune-50")
    page.state.select_variant(child.id)
    assert page.note.isVisible() and page.note.kind == "unfair"
    assert PARENT_NOTE.capitalize() in page.note.text()
    row = _column(page, "Name").index("prune-50")
    assert PARENT_NOTE in page.proxy.index(row, page.model.column("Parent")).data(Qt.ItemDataRole.ToolTipRole)
    with qtbot.waitSignal(page.state.navigate) as sig:
        page.note.button.click()
    assert sig.args == ["Optimize"]
    made, ran = page.state.recipe, Recipe.from_yaml(child.recipe)
    assert made.name == "prune-50-dense-control" and made.methods == ()
    assert made.train == ran.train and made.data == ran.data and made.model == ran.model


def test_a_finished_control_becomes_the_parent_of_the_deltas(qtbot, own_workspace):
    from engine.fair_parent import control_recipe
    from engine.metric_text import fmt_delta, fmt_metric

    child = next(v for v in Workspace(own_workspace).variants() if v.name == "prune-50")
    result = Job(control_recipe(child), workspace=own_workspace).run()
    assert result.ok, result.error
    control = Workspace(own_workspace).get(result.run_id)
    try:
        w = _page_on(qtbot, own_workspace)
        w.state.select_variant(child.id)
        assert w.note.kind == "control" and control.name in w.note.text()
        assert w.note.button.isHidden()
        row = _column(w, "Name").index("prune-50")
        value = child.card["metrics"]["perplexity"]
        delta = value - control.card["metrics"]["perplexity"]
        assert _column(w, "Perplexity")[row] == f"{fmt_metric('perplexity', value)} ({fmt_delta('perplexity', delta)})"
        assert not _column(w, "Parent")[row].endswith("⚠")  # the comparison is fair now
        tip = w.proxy.index(row, w.model.column("Perplexity")).data(Qt.ItemDataRole.ToolTipRole)
        assert f"the dense fine-tuned control {control.name}" in tip
        # the Export page compares with the same control, and says so
        from gui.pages.export_page import ExportPage

        e = ExportPage(w.state)
        qtbot.addWidget(e)
        assert e.current_id() == child.id and e.note.kind == "control"
        assert e.shrink.heads[2].text() == "dense control"
        assert e.tiles.tiles["speedup"].caption.text() == "SPEED VS CONTROL"
        assert e.shrink.row_text(1)[3].endswith("of the control")
        assert e.shrink.row_text(4)[2] == fmt_metric("perplexity", control.card["metrics"]["perplexity"])
        assert e.shrink.report["parent_note"] is None  # a fine-tuned parent: a fair comparison
    finally:
        Workspace(own_workspace).delete(control.id)


def test_rename_delete_and_csv_from_the_page(qtbot, own_workspace, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    w = _page_on(qtbot, own_workspace)
    ws = Workspace(own_workspace)
    victim = next(v for v in ws.variants() if v.name == "prune-80")
    w.state.select_variant(victim.id)
    assert w.selected().id == victim.id and w.rename_btn.isEnabled() and w.delete_btn.isEnabled()

    def type_name(text: str, then_ok: bool) -> None:
        dialog = QApplication.activeModalWidget()
        dialog.field.setText(text)
        seen.append((dialog.error.text(), dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()))
        if then_ok:
            dialog.field.setText("prune-80-renamed")
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
        else:
            dialog.reject()

    seen: list = []
    QTimer.singleShot(0, lambda: type_name("prune-50", then_ok=True))  # a name in use first
    with qtbot.waitSignal(w.state.variants_changed):
        w.rename_btn.click()
    assert seen[0][0].startswith("another variant is already named 'prune-50'") and not seen[0][1]
    assert ws.get(victim.id).name == "prune-80-renamed"
    assert "prune-80-renamed" in _column(w, "Name") and "renamed prune-80" in w.message.text()

    out = w.actions.export_csv(tmp_path / "variants.csv")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["name"] for r in rows] == [v.name for v in ws.variants()]

    # a cancelled question deletes nothing; Yes removes the row and the run folder
    w.state.select_variant(victim.id)
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().button(QMessageBox.StandardButton.Cancel).click())
    w.delete_btn.click()
    assert ws.get(victim.id) and ws.run_dir(victim.id).is_dir()
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().button(QMessageBox.StandardButton.Yes).click())
    with qtbot.waitSignal(w.state.variants_changed):
        w.delete_btn.click()
    assert victim.id not in [v.id for v in ws.variants()] and not ws.run_dir(victim.id).exists()
    assert "prune-80-renamed" not in _column(w, "Name")


def test_a_running_variant_cannot_be_deleted_or_renamed(qtbot, own_workspace):
    ws = Workspace(own_workspace)
    busy = ws.new_run("busy", "name: busy\n")  # registered by this process: live
    try:
        w = _page_on(qtbot, own_workspace)
        w.state.select_variant(busy.id)
        assert not w.delete_btn.isEnabled() and not w.rename_btn.isEnabled()
        assert "running" in w.delete_btn.toolTip()
        menu = {a.text(): a for a in w.context_menu().actions()}
        assert not menu["Delete…"].isEnabled() and not menu["Rename…"].isEnabled()
        assert w.actions.delete(ws.get(busy.id), ask=False) is False
        assert "is running" in w.message.text() and ws.run_dir(busy.id).is_dir()
    finally:
        ws.mark(busy.id, "cancelled")
        ws.delete(busy.id)


@pytest.mark.skipif(not Path(__file__).parents[2].joinpath("assets/weights/tiny-bert.safetensors").is_file(),
                    reason="tiny-bert's shipped weights are not in assets/weights")
def test_accuracy_and_perplexity_never_share_a_column(qtbot, own_workspace):
    result = Job(Recipe.from_yaml(BERT), workspace=own_workspace).run()
    assert result.ok, result.error
    w = _page_on(qtbot, own_workspace)
    assert {"Accuracy", "Perplexity"} <= set(w.model.columns)
    names = _column(w, "Name")
    acc, ppl = _column(w, "Accuracy", Qt.ItemDataRole.UserRole), _column(w, "Perplexity", Qt.ItemDataRole.UserRole)
    for name, a, p in zip(names, acc, ppl, strict=True):
        is_bert = name.startswith(("bert", "tiny-bert"))
        assert (a is not None) == is_bert and (p is not None) == (not is_bert), name
    # sorting one metric's column keeps the variants without it at the bottom
    w.view.sortByColumn(w.model.column("Accuracy"), Qt.SortOrder.DescendingOrder)
    acc = _column(w, "Accuracy", Qt.ItemDataRole.UserRole)
    n = sum(a is not None for a in acc)
    assert n == 2 and acc[:n] == sorted(acc[:n], reverse=True) and all(a is None for a in acc[n:])
    assert "%" in _column(w, "Accuracy")[0]  # accuracy reads as a percentage, as on the Run page
    # two metric columns still fit 892 px (a 1024 window less the page list): the status and
    # method stay, the least needed numbers give way; the plot follows the selected metric
    w.resize(892, 659)
    qtbot.wait(20)
    assert not w.view.horizontalScrollBar().isVisible()
    for name in ("Status", "Method", "Accuracy", "Perplexity", "Sparsity", "p50 ms"):
        assert not w.view.isColumnHidden(w.model.column(name)), name
    bert = next(v for v in Workspace(own_workspace).variants() if v.name == "bert-prune-50")
    w.state.select_variant(bert.id)
    assert w.metric_picker.currentText() == "accuracy" and w.scatter._selected == bert.id


def test_metric_columns_appear_when_variants_arrive_after_the_page_was_built(qtbot, tmp_path, workspace):
    """Built on an empty workspace at 1024 px, then the first runs finish: no metric is hidden."""
    empty = tmp_path / "later"
    state = AppState(empty)
    w = ComparePage(state)
    qtbot.addWidget(w)
    w.resize(872, 640)  # the page's share of a 1024 × 700 window
    w.show()
    qtbot.waitExposed(w)
    shutil.copytree(workspace, empty, dirs_exist_ok=True)
    state.set_workspace(empty)  # re-reads the store, as when a run finishes
    qtbot.waitUntil(lambda: w.proxy.rowCount() == 3)
    for name in ("Name", "Perplexity", "Sparsity", "p50 ms"):
        col = w.model.column(name)
        assert col >= 0 and not w.view.isColumnHidden(col), (name, w.model.columns)
    assert w.view.isColumnHidden(w.model.column("ID"))


def test_selecting_rows_never_moves_the_table(qtbot, page, workspace):
    """The note keeps its room whatever the selection says, so a double-click lands where aimed."""
    page.resize(872, 640)
    qtbot.wait(50)
    tops = []
    for row in range(page.proxy.rowCount()):
        page.view.selectRow(row)
        qtbot.wait(20)
        tops.append(page.view.mapTo(page, page.view.rect().topLeft()).y())
    page.view.clearSelection()
    qtbot.wait(20)
    tops.append(page.view.mapTo(page, page.view.rect().topLeft()).y())
    assert page.note.isVisible()
    assert len(set(tops)) == 1, tops
