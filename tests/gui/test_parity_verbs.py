"""GUI ⇄ CLI parity: the Export page's re-export and `workbench-cli export` leave the same record;
a sensitivity scan stored by either is listed and shown the same by `sensitivity --list/--show`
and by the panel's Past scans picker."""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from engine.cli import main  # noqa: E402
from engine.cli.sensitivity import sensitivity_table  # noqa: E402
from engine.events import Finished, Progress, StageStarted, event_from_json  # noqa: E402
from engine.recipe import Recipe  # noqa: E402
from engine.sensitivity import SensitivityResult  # noqa: E402
from engine.store import Workspace  # noqa: E402
from gui.pages.export_page import ExportPage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.sensitivity_panel import SensitivityPanel  # noqa: E402
from tests.gui.test_compare_page import tiny_workspace  # noqa: E402

SCAN_RECIPE = """
name: scan-me
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 120}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global, include: ["blocks.0.*"]}
train: {batch_size: 4, epochs: 0, eval_batches: 2}
export: {enabled: false}
"""


def test_gui_and_cli_export_leave_the_same_record(qtbot, tmp_path, capsys):
    root = tmp_path / "ws"
    shutil.copytree(tiny_workspace(), root)
    ws = Workspace(root)
    v = next(x for x in ws.variants() if x.name == "prune-50")
    # the shared workspace may hold an earlier re-export (test_export_page's, in this worker)
    before = len(v.card.get("history") or [])
    page = ExportPage(AppState(root))
    qtbot.addWidget(page)
    page.state.select_variant(v.id)
    fractions: list[float] = []
    with qtbot.waitSignal(page.runner.exported, timeout=180_000):
        page.export_btn.click()
        assert page.is_busy() and not page.export_btn.isEnabled()
        assert page.runner.cancel_btn.isVisibleTo(page) and page.runner.bar.isVisibleTo(page)
        page.runner.job.progress.connect(lambda f, _m: fractions.append(f))
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    by_gui = ws.get(v.id).card
    assert page.runner.last.text().endswith("by Export page: Export / re-export")

    capsys.readouterr()
    assert main(["export", v.id, "-w", str(root), "--events-json"]) == 0
    events = [event_from_json(line) for line in capsys.readouterr().out.splitlines()]
    assert isinstance(events[0], StageStarted) and events[0].stage == "export"
    cli_fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert cli_fractions == sorted(cli_fractions) and cli_fractions[-1] == 1.0
    assert isinstance(events[-1], Finished) and events[-1].run_id == v.id
    by_cli = ws.get(v.id).card
    assert set(by_cli) == set(by_gui) and set(by_cli["onnx"]) == set(by_gui["onnx"])
    assert len(by_cli["history"]) == before + 2
    gui_entry, cli_entry = by_cli["history"][before:]
    assert set(gui_entry) == set(cli_entry)
    assert (gui_entry["by"], cli_entry["by"]) == ("gui", "cli")
    assert cli_entry["verb"] == "workbench-cli export"
    assert main(["show", v.id, "-w", str(root)]) == 0  # the card's text lists both
    shown = capsys.readouterr().out
    assert shown.index("by Export page: Export / re-export") < shown.index("by workbench-cli export")
    assert by_cli["onnx"]["checker_ok"] and by_cli["onnx"]["path"] == by_gui["onnx"]["path"]
    page.refresh()  # the CLI wrote the card; the page reads it again
    assert page.runner.last.text().endswith("by workbench-cli export")

    with qtbot.waitSignal(page.runner.cancelled, timeout=60_000):  # Cancel: nothing changes
        page.export_btn.click()
        page.runner.cancel_btn.click()
    assert ws.get(v.id).card == by_cli and not page.is_busy() and page.export_btn.isEnabled()
    assert page.error.text() == "Export cancelled; the previous ONNX file and card are unchanged."


def _cli_json(capsys, *argv: str):
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_a_stored_scan_is_listed_and_shown_the_same_by_cli_and_gui(qtbot, tmp_path, capsys):
    recipe_file, ws = tmp_path / "scan.yaml", str(tmp_path / "ws")
    recipe_file.write_text(SCAN_RECIPE)
    ran = _cli_json(capsys, "sensitivity", str(recipe_file), "--levels", "0.5,0.9", "--target",
                    "0.4", "--json", "-q", "-w", ws)  # fmt: skip
    (head,) = _cli_json(capsys, "sensitivity", "--list", "--json", "-w", ws)
    assert head["id"] == ran["id"] and head["by"] == "cli" and head["model"] == "builtin:tiny-gpt"
    assert head["levels"] == [0.5, 0.9] and head["layers"] == 4
    assert _cli_json(capsys, "sensitivity", "--list", "--model", "builtin:tiny-bert", "--json",
                     "-w", ws) == []  # fmt: skip
    shown = _cli_json(capsys, "sensitivity", "--show", ran["id"], "--json", "-w", ws)
    assert shown == ran  # the stored scan prints exactly as the scan did

    state = AppState(ws, Recipe.from_yaml(SCAN_RECIPE))
    panel = SensitivityPanel(state)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.picker.ids() == [ran["id"]]
    panel.picker.choose(ran["id"])
    assert panel.record["id"] == ran["id"] and panel.proposal == ran["proposal"]
    assert panel.target == 0.4 and panel.levels_edit.text() == "0.5, 0.9"
    assert set(panel.plot.curves) == set(ran["layers"])  # redrawn, not re-run
    table = sensitivity_table(SensitivityResult.from_dict(ran), ran["proposal"]).splitlines()
    cli_rows = {line.split()[0]: line.split()[-2] for line in table[4:8]}  # layer -> proposed
    gui_rows = {panel.table.item(r, 0).data(Qt.ItemDataRole.UserRole):
                f"{panel.proposal[panel.table.item(r, 0).data(Qt.ItemDataRole.UserRole)]:.1%}"
                for r in range(panel.table.rowCount())}  # fmt: skip
    assert gui_rows == cli_rows
    panel.apply()  # Apply to form == sensitivity --show ID --out FILE
    out = tmp_path / "applied.yaml"
    assert main(["sensitivity", "--show", ran["id"], "--out", str(out), "-w", ws]) == 0
    assert Recipe.load(out).methods == state.recipe.methods
    assert state.recipe.methods[0].overrides == ran["proposal"]

    panel.levels_edit.setText("0.9")  # a scan from the GUI: stored, listed by the CLI
    assert panel.start()
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    heads = _cli_json(capsys, "sensitivity", "--list", "--json", "-w", ws)
    assert [h["by"] for h in heads] == ["gui", "cli"] and heads[0]["id"] == panel.record["id"]
    assert panel.picker.ids() == [h["id"] for h in heads]
