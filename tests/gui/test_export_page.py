"""Export page on real variants: the card's numbers, parent comparison, re-export, empty states."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from engine.store import Workspace  # noqa: E402
from gui.pages.export_page import ExportPage  # noqa: E402
from gui.state import AppState  # noqa: E402
from tests.gui.test_compare_page import tiny_workspace  # noqa: E402

EXPORT_MS = 180_000


@pytest.fixture(scope="module")
def workspace():
    return tiny_workspace()


@pytest.fixture
def page(qtbot, workspace):
    w = ExportPage(AppState(workspace))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


def _variant(workspace, name):
    return next(v for v in Workspace(workspace).variants() if v.name == name)


def test_shows_the_selected_variants_onnx_numbers(page, workspace):
    v = _variant(workspace, "prune-80")
    page.state.select_variant(v.id)
    onnx = v.card["onnx"]
    assert page.stack.currentIndex() == 2
    assert page.combo.currentData() == v.id
    assert f"{onnx['max_abs_diff']:.2e}" in page.card.text("max_diff")
    assert f"p50 {onnx['latency_ms_p50']:.2f} ms" in page.card.text("latency")
    assert f"p95 {onnx['latency_ms_p95']:.2f} ms" in page.card.text("latency")
    assert f"{onnx['size_bytes'] / 1e6:.2f} MB" in page.card.text("size")
    assert "✔ passed" in page.card.text("checker")
    assert onnx["path"] == page.card.text("path")
    assert "#2e7d32" in page.card.values["max_diff"].text()  # green: within 1e-3
    assert f"{onnx['latency_ms_p50']:.2f} ms" == page.tiles.tiles["p50"].value.text()


def test_compares_with_the_parents_export(page, workspace):
    v = _variant(workspace, "prune-50")
    parent = Workspace(workspace).get(v.parent)
    page.state.select_variant(v.id)
    onnx, p_onnx = v.card["onnx"], parent.card["onnx"]
    # the speed against the parent is the one timed side by side with it in the deploy stage
    fp32 = v.card["artifacts"][0]
    speedup = fp32["speedup_vs_parent"]
    assert v.card["shrink"]["speedup"] == speedup and v.card["shrink"]["latency_side_by_side"]
    ratio = onnx["size_bytes"] / p_onnx["size_bytes"]
    assert page.shrink.row_text(1)[:3] == [
        "ONNX file", f"{onnx['size_bytes'] / 1e6:.2f} MB", f"{p_onnx['size_bytes'] / 1e6:.2f} MB"]
    assert page.shrink.row_text(1)[3] == f"{ratio:.2f}× of the parent"
    assert page.shrink.row_text(3)[3].startswith(f"{speedup:.2f}×")
    assert page.tiles.tiles["speedup"].value.text().count(f"{speedup:.2f}×") == 1
    assert page.family.names[0] == parent.name and {"prune-50", "prune-80"} <= set(page.family.names)
    # the baseline has no parent to compare with
    page.state.select_variant(parent.id)
    assert page.shrink.report["verdict"].startswith("No parent variant to compare with")
    assert "No parent variant" in page.shrink.verdict.text()
    assert page.shrink.row_text(1)[2:] == ["–", "–"]


def test_did_it_shrink_on_a_real_unstructured_variant(page, workspace):
    v = _variant(workspace, "prune-80")
    parent = Workspace(workspace).get(v.parent)
    page.state.select_variant(v.id)
    model, onnx = v.card["model"], v.card["onnx"]
    r = page.shrink.report
    # dense tensors: as many parameters stored as before, 80% of the pruned ones zero
    assert page.shrink.bars.texts() == [
        f"dense {model['params_before']:,}",
        f"present {model['params']:,} (100%)",
        f"non-zero {model['nonzero_params']:,} ({model['nonzero_params'] / model['params']:.0%})",
    ]
    assert model["nonzero_params"] < 0.5 * model["params"]
    zip_ratio = onnx["zip_bytes"] / parent.card["onnx"]["zip_bytes"]
    assert zip_ratio < 0.7 and onnx["zip_bytes"] < onnx["size_bytes"]
    assert page.shrink.row_text(2) == [
        "zipped", f"{onnx['zip_bytes'] / 1e6:.2f} MB",
        f"{parent.card['onnx']['zip_bytes'] / 1e6:.2f} MB", f"{zip_ratio:.2f}× of the parent"]
    assert "#2e7d32" in page.shrink.cells[(2, 3)].text()  # a smaller zip is the real gain: green
    assert "#2e7d32" not in page.shrink.cells[(1, 3)].text()  # the ONNX file did not shrink
    assert r["outcome"] == "zip_only"
    assert "Zeros, not smaller tensors" in page.shrink.verdict.text()
    assert f"only the zip shrinks ({zip_ratio:.2f}×)" in page.shrink.verdict.text()
    reasons = page.shrink.reasons.text()
    assert "unstructured sparsity keeps dense tensors: ONNX size and dense-kernel latency are unchanged" in reasons
    assert "Use structured pruning or N:M for speed." in reasons
    # a timer difference on the same dense kernels is never shown as a green speed-up
    assert "#2e7d32" not in page.tiles.tiles["speedup"].value.text()
    assert page.shrink.row_text(3)[3].endswith("noise")


def test_open_folder_targets_the_run_folder(page, workspace):
    v = _variant(workspace, "prune-50")
    page.state.select_variant(v.id)
    url = page.folder_url()
    assert url.isLocalFile() and url.toLocalFile() == str(Workspace(workspace).run_dir(v.id))
    names = [page.artifacts.item(r, 0).text() for r in range(page.artifacts.rowCount())]
    assert "model.onnx" in names and "checkpoint/" in names


def test_failed_selection_is_explained_and_newest_finished_shown(qtbot, page, workspace):
    ws = Workspace(workspace)
    failed = ws.new_run("broken", "name: broken\n")
    ws.mark(failed.id, "failed", error="out of memory")
    try:
        page.state.select_variant(failed.id)
        assert "broken is failed (out of memory)" in page.error.text()
        assert page.current_id() == ws.variants(status="finished")[-1].id
    finally:
        ws.delete(failed.id)


def test_reexport_runs_in_the_background_and_refreshes(qtbot, page, workspace):
    v = _variant(workspace, "prune-50")
    page.state.select_variant(v.id)
    with qtbot.waitSignal(page.state.variants_changed, timeout=EXPORT_MS):
        page.export_btn.click()
        assert page.is_busy() and not page.export_btn.isEnabled()
    assert not page.is_busy() and page.error.text() == ""
    after = Workspace(workspace).get(v.id)
    assert after.card["onnx"]["checker_ok"] is True
    assert after.updated > v.updated
    assert f"{after.card['onnx']['max_abs_diff']:.2e}" in page.card.text("max_diff")


def test_empty_and_not_exported_states(qtbot, tmp_path):
    state = AppState(tmp_path / "ws")
    w = ExportPage(state)
    qtbot.addWidget(w)
    assert w.stack.currentWidget() is w.empty and not w.export_btn.isEnabled()
    assert w.folder_url() is None
    ws = Workspace(tmp_path / "ws")
    run = ws.new_run("no-onnx", "name: no-onnx\n")
    ws.finish(run.id, {"id": run.id, "name": "no-onnx", "method": "none", "onnx": None})
    state.variants_changed.emit()
    assert w.stack.currentWidget() is w.not_exported and w.export_btn.isEnabled()


def test_the_metric_stands_next_to_size_and_latency(page, workspace):
    from engine.metric_text import fmt_delta, fmt_metric

    v = _variant(workspace, "prune-80")
    parent = Workspace(workspace).get(v.parent)
    page.state.select_variant(v.id)
    value, before = v.card["metrics"]["perplexity"], parent.card["metrics"]["perplexity"]
    row = page.shrink.row_text(4)
    assert row[:3] == ["perplexity", fmt_metric("perplexity", value), fmt_metric("perplexity", before)]
    assert row[3].startswith(fmt_delta("perplexity", value - before))
    assert page.tiles.tiles["metric"].caption.text() == "PERPLEXITY"
    assert fmt_metric("perplexity", value) in page.tiles.tiles["metric"].value.text()
    # 80% of the shipped (pretrained) weights gone in 4 steps: perplexity rose, and the verdict says it
    r = page.shrink.report
    assert r["metric"]["change"] == "lost"
    assert "perplexity rose from" in r["verdict"] and "✔" not in page.shrink.verdict.text()
    assert "⚠" in page.shrink.verdict.text()


def test_the_untrained_parent_is_flagged_with_a_control_to_make(qtbot, page, workspace):
    from engine.fair_parent import PARENT_NOTE

    v = _variant(workspace, "prune-50")
    page.state.select_variant(v.id)
    assert page.note.isVisible() and page.note.kind == "unfair"
    assert PARENT_NOTE.capitalize() in page.note.text()
    assert page.shrink.report["parent_note"] == PARENT_NOTE
    assert page.shrink.heads[2].text() == "parent"
    with qtbot.waitSignal(page.state.navigate) as sig:
        page.note.button.click()
    assert sig.args == ["Optimize"] and page.state.recipe.methods == ()
    assert page.state.recipe.name == "prune-50-dense-control"


def test_open_folder_without_a_file_manager_shows_the_path(page, workspace):
    from PySide6.QtCore import Qt

    v = _variant(workspace, "prune-50")
    page.state.select_variant(v.id)
    # the offscreen platform has no desktop services: openUrl fails, as on a bare server
    assert page.open_folder() is False
    box = page.folder_box
    assert box.isVisible() and box.informativeText() == str(Workspace(workspace).run_dir(v.id))
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    box.close()


def test_export_and_compare_fit_a_1024_by_700_window(qtbot, workspace, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    state = AppState(workspace)
    window = MainWindow(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1024, 700)
    window.show()
    state.select_variant(_variant(workspace, "prune-50").id)
    for name in ("Export", "Compare"):
        state.navigate.emit(name)
        qtbot.wait(50)
        area = window.stack.currentWidget()
        assert window.width() == 1024 and window.height() == 700
        # the page fits: no scroll bars around it (nothing pushed out of the window)
        assert not area.verticalScrollBar().isVisible(), name
        assert not area.horizontalScrollBar().isVisible(), name
    state.navigate.emit("Export")
    area = window.stack.currentWidget()
    for tab in range(window.export_page.tabs.count()):  # the file, the family chart, the folder
        window.export_page.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        assert not area.verticalScrollBar().isVisible() and not area.horizontalScrollBar().isVisible(), tab
    table = window.compare_page.view
    assert not table.horizontalScrollBar().isVisible()  # every shown column fits
    window.grab().save(str(tmp_path / "compare.png"))
