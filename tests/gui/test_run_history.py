"""Run history: a finished run's metrics.jsonl read back and overlaid; damaged files are no traceback."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from engine.events import Metric
from engine.metrics_log import METRICS_FILE, read_metrics
from gui.pages.run_page import RunPage
from gui.widgets.live_plots import HISTORY_COLORS


def _finished_run(qtbot, page: RunPage) -> tuple[str, list[Metric]]:
    seen: list = []
    page.runner.event.connect(seen.append)
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start()
    page.runner.event.disconnect(seen.append)
    assert ended.args[0].status == "finished", ended.args[0].error
    return ended.args[0].run_id, [e for e in seen if isinstance(e, Metric)]


def test_a_finished_runs_curves_are_overlaid_from_its_jsonl(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    first, metrics = _finished_run(qtbot, page)
    second, _ = _finished_run(qtbot, page)  # the live run now; the first is history
    page.history_button.setChecked(True)
    panel = page.history
    assert panel.isVisible()
    current = panel.item_for(second)
    assert current is not None and "(this run)" in current.text() and current.font().bold()
    assert not current.flags() & Qt.ItemFlag.ItemIsUserCheckable  # it is the live curves already
    item = panel.item_for(first)
    item.setCheckState(Qt.CheckState.Checked)
    entries = {name: (x, y, curve) for name, x, y, curve in page.plots.history[first]}
    loss = [(m.step, m.value) for m in metrics if m.name == "train/loss"]
    x, y, curve = entries["train/loss"]
    assert list(x) == [s for s, _ in loss] and np.allclose(y, [v for _, v in loss])
    assert np.allclose(curve.getData()[1], y)  # drawn raw while smoothing is 0
    assert curve.opts["pen"].color().name() == HISTORY_COLORS[0]
    # the list is the legend of past runs: their colour next to their name, not in the plots
    assert item.icon().pixmap(12, 12).toImage().pixelColor(6, 6).name() == HISTORY_COLORS[0]
    legend = [label.text for _sample, label in page.plots.plots["loss"].getPlotItem().legend.items]
    assert legend == ["train loss", "val loss"]
    assert "val/perplexity" in entries and "sparsity/overall" not in entries  # curves only

    page.plots.smooth_slider.setValue(90)  # smoothing applies to the overlay too
    smoothed = curve.getData()[1]
    assert np.isclose(smoothed[0], y[0]) and not np.allclose(smoothed, y)  # debiased: starts at y[0]
    page.plots.log_check.setChecked(True)
    assert page.plots.plots["loss"].getPlotItem().ctrl.logYCheck.isChecked()

    item.setCheckState(Qt.CheckState.Unchecked)
    assert first not in page.plots.history and item.icon().isNull()
    assert curve not in page.plots.plots["loss"].getPlotItem().listDataItems()


def test_a_truncated_or_damaged_jsonl_is_read_as_far_as_it_goes(qtbot, app_state, tmp_path):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    run_id, metrics = _finished_run(qtbot, page)
    path = app_state.workspace.run_dir(run_id) / METRICS_FILE
    whole = read_metrics(path)
    assert whole.skipped == 0 and whole.note() == ""
    n_loss = len(whole.series["train/loss"][0])
    # a killed run: its last line cut in the middle, as a crash mid-write leaves it
    lines = path.read_bytes().splitlines(keepends=True)
    last_loss = max(i for i, line in enumerate(lines) if b'"train/loss"' in line)
    path.write_bytes(b"".join(lines[:last_loss]) + lines[last_loss][:25])
    cut = read_metrics(path)
    assert cut.skipped == 1 and len(cut.series["train/loss"][0]) == n_loss - 1
    assert "damaged" in cut.note()
    page.history_button.setChecked(True)
    page.history.set_current(None)
    page.history.item_for(run_id).setCheckState(Qt.CheckState.Checked)
    assert "1 damaged line" in page.history.note.text()
    assert len(page.plots.history[run_id]) >= 1

    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\xff\xfe not json\n[1, 2]\n" + b"[" * 100_000 + b"\n"
                     b'{"event": "Metric", "name": "train/loss", "step": "x", "value": 1}\n'
                     b'{"event": "Metric", "name": "train/loss", "step": 1, "value": NaN}\n'
                     b'{"event": "Metric", "name": "train/loss", "step": 2, "value": 0.5}\n')
    log = read_metrics(junk)
    assert log.skipped == 5 and list(log.series["train/loss"][1]) == [0.5]
    missing = read_metrics(tmp_path / "nope.jsonl")
    assert missing.series == {} and "cannot be read" in missing.note()
