"""Run page with real jobs: buttons, finished and failed runs, what lands in the workspace."""

from __future__ import annotations

import dataclasses

from engine.events import LayerStats, Metric
from gui.pages.run_page import ERROR_COLOR, RunPage, fmt_duration, summary_text
from gui.widgets.live_plots import LivePlots, short_layer_name, strip_common_prefix
from tests.gui.conftest import fast_recipe


def test_finished_run_updates_workspace_and_selection(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    assert page.start_button.isEnabled() and not page.cancel_button.isEnabled()
    changed: list = []
    app_state.variants_changed.connect(lambda: changed.append(True))

    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start()
        assert not page.start_button.isEnabled()
        assert page.pause_button.isEnabled() and page.cancel_button.isEnabled()
        assert not page.resume_button.isEnabled()
        assert not page.start()  # a second start while running is refused
        assert "already running" in page.status.text()
    result = ended.args[0]
    assert result.status == "finished", result.error
    assert changed, "variants_changed must fire so other pages re-read the store"
    assert app_state.selected_variant == result.run_id
    assert app_state.workspace.get(result.run_id).status == "finished"
    assert page.status.text().startswith(f"✔ finished {result.run_id}")
    assert "sparsity 50.0%" in page.status.text() and "perplexity" in page.status.text()
    assert page.progress.value() == 1000
    assert page.start_button.isEnabled() and not page.cancel_button.isEnabled()
    assert len(page.plots.buffers["train/loss"]) == 6  # log_every=1, max_steps=6
    assert page.plots.layer_bars.names  # per-layer sparsity arrived
    assert "finished" in page.log.toPlainText()


def test_failed_run_shows_the_error_in_red(qtbot, app_state, tmp_path):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    missing = tmp_path / "missing.txt"
    recipe = fast_recipe()
    recipe = recipe.replace(data=dataclasses.replace(recipe.data, source="text", path=str(missing)))
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start(recipe)
    assert ended.args[0].status == "failed"
    assert page.status.text().startswith("failed: ")
    assert ERROR_COLOR in page.status.styleSheet()
    assert "missing.txt" in page.log.toPlainText()
    assert page.start_button.isEnabled()


def test_invalid_recipe_is_not_started(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    recipe = fast_recipe()
    bad = recipe.replace(train=dataclasses.replace(recipe.train, batch_size=0))
    assert not page.start(bad)
    assert "train.batch_size: must be in [1, 65536], got 0" in page.status.text()
    assert not page.runner.running


def test_text_helpers():
    assert fmt_duration(None) == "" and fmt_duration(42) == "42 s"
    assert fmt_duration(185) == "3 min 05 s" and fmt_duration(3720) == "1 h 02 min"
    line = summary_text({"metrics.accuracy": 0.8123, "sparsity.overall": 0.5, "onnx.latency_ms_p50": 1.234})
    assert line == "accuracy 81.2% · sparsity 50.0% · ONNX latency p50 1.23 ms"


def test_plots_redraw_per_tick_not_per_event(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.timer.stop()
    for step in range(500):
        plots.on_event(Metric("train/loss", step, 1.0 / (step + 1)))
    plots.on_event(Metric("val/loss", 499, 0.1))
    plots.redraw()
    assert plots.redraws == 2  # one setData per changed curve, however many events came in
    plots.redraw()
    assert plots.redraws == 2  # nothing changed: nothing redrawn
    names = [f"bert.encoder.layer.{i}.attention.self.query" for i in range(30)]
    plots.on_event(LayerStats(0, {n: 0.5 for n in names}))
    plots.redraw()
    assert plots.layer_bars.names == names


def test_short_layer_names():
    assert short_layer_name("blocks.0.attn.qkv") == "b0.attn.qkv"
    assert strip_common_prefix(["bert.encoder.layer.0.output.dense", "bert.encoder.layer.1.output.dense"]) == [
        "layer.0.output.dense", "layer.1.output.dense"]
    assert short_layer_name("layer.11.attention.output.dense") == "L11.attn.out.dense"
    assert len(short_layer_name("a_very_long_module_name.with_another_long_part.and_more")) == 22
