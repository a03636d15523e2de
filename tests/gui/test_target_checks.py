"""Export page, Targets tab: a quantized variant's files against the edge target, checked off
the GUI thread; the fp32 file fails for want of int8 weights and the int8 file passes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui.widgets.artifact_tiles import plain  # noqa: E402
from gui.widgets.target_checks import NONE_YET, TargetChecks  # noqa: E402
from tests.gui.quantized_run import export_window, quantized_run  # noqa: E402


def _card(root, run_id):
    from engine.store import Workspace

    return Workspace(root).get(run_id).card


def test_check_button_measures_each_file_against_the_picked_target(qtbot, tmp_path_factory):
    root, run_id = quantized_run(tmp_path_factory)
    panel = TargetChecks()
    qtbot.addWidget(panel)
    card = _card(root, run_id)
    panel.show_variant(run_id, card, root)
    if not card.get("target_checks"):  # the run is shared with other modules' tests
        assert plain(panel.table.text()) == plain(NONE_YET)
    names = [panel.picker.itemText(i) for i in range(panel.picker.count())]
    assert {"edge", "mobile", "mobile-npu", "server-cpu", "server-gpu"} <= set(names)
    assert panel.picker.currentText() == "edge"
    panel.check_btn.click()
    assert panel.is_busy() and not panel.check_btn.isEnabled()  # measured off the GUI thread
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=120_000)
    text = plain(panel.table.text())
    assert "onnx-fp32 on edge: FAIL" in text and "needs int8 weights" in text
    int8 = [r for r in panel.results if r["artifact"] != "onnx-fp32"]
    assert int8 and all(r["passed"] for r in int8), int8
    assert "proxy" in text and "some requirements fail" in panel.status.text()
    stored = {(r["target"], r["artifact"]): r["passed"] for r in _card(root, run_id)["target_checks"]}
    assert stored[("edge", "onnx-fp32")] is False  # kept on the card, shown when it reopens


def test_stored_checks_show_on_open_and_a_bad_workspace_target_is_named(qtbot, tmp_path):
    stored = {"target": "edge", "artifact": "onnx-fp32", "path": "x.onnx", "passed": False,
              "proxy": True, "threads": 4, "requirements": [
                  {"name": "peak memory", "passed": False, "measured": 212.0, "limit": 128.0,
                   "unit": "MB", "reason": "peak memory 212 MB > 128 MB: quantize to int8"}]}
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "broken.yaml").write_text("kind: edge\nthreads: 0\n")
    panel = TargetChecks()
    qtbot.addWidget(panel)
    panel.show_variant("r1", {"target_checks": [stored]}, tmp_path)
    text = plain(panel.table.text())
    assert "onnx-fp32 on edge: FAIL" in text and "212 MB" in text and "> 128 MB" in text
    assert "broken.yaml: target.threads" in panel.status.text()
    assert panel.picker.findText("broken") == -1 and panel.picker.findText("edge") >= 0


def test_export_page_has_the_targets_tab_and_renders_a_failing_check(qtbot, tmp_path_factory, tmp_path):
    root, run_id = quantized_run(tmp_path_factory)
    window, _state = export_window(qtbot, root, run_id, tmp_path / "s.ini")
    page = window.export_page
    tabs = page.tabs
    assert tabs.tabText(tabs.indexOf(page.targets)) == "Targets"
    tabs.setCurrentWidget(page.targets)
    page.targets.check_btn.click()
    qtbot.waitUntil(lambda: not page.targets.is_busy(), timeout=120_000)
    assert "needs int8 weights" in plain(page.targets.table.text())
    out = os.environ.get("WORKBENCH_SCREENSHOTS")  # set to write assets/screenshots
    path = (os.path.join(out, "export-target-check.png") if out else str(tmp_path / "t.png"))
    assert window.grab().save(path)


def test_optimize_page_deploy_targets_form_validates_names(qtbot, app_state):
    from gui.pages.optimize_page import OptimizePage

    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.deploy_form.editor("targets").setText("edge, toaster")
    assert not page.run_button.isEnabled()
    # the form names the section (its line under the form); the recipe names deploy.targets[1]
    assert page.first_error().startswith("deploy: unknown target 'toaster'; known: edge")
    with qtbot.waitSignal(app_state.recipe_changed):
        page.deploy_form.editor("targets").setText("edge, mobile")
    assert app_state.recipe.deploy.targets == ("edge", "mobile")
    assert page.run_button.isEnabled(), page.first_error()
    page.show_recipe(app_state.recipe.replace(deploy=app_state.recipe.deploy.__class__()))
    assert page.deploy_form.editor("targets").text() == ""  # a loaded recipe fills the form


def test_render_optimize_deploy_targets(qtbot, app_state, tmp_path):
    """Writes optimize-deploy-targets.png when WORKBENCH_SCREENSHOTS names a folder."""
    out = os.environ.get("WORKBENCH_SCREENSHOTS")
    if not out:
        return
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QScrollArea

    from gui.main_window import MainWindow

    window = MainWindow(app_state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    page = window.optimize_page
    page.deploy_form.editor("targets").setText("edge, mobile")
    window.resize(1280, 800)
    window.show()
    window.show_page("Optimize")
    area = page.deploy_form.parentWidget()
    while not isinstance(area, QScrollArea):
        area = area.parentWidget()
    qtbot.wait(200)
    area.ensureWidgetVisible(page.deploy_form)
    qtbot.wait(200)
    assert window.grab().save(os.path.join(out, "optimize-deploy-targets.png"))
