"""Run page with real jobs: buttons, finished and failed runs, what lands in the workspace."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import Qt

from engine.events import LayerStats, Metric, Progress, StageStarted, WeightHistogram
from engine.registry import method_config_class
from gui.pages.run_page import ERROR_COLOR, RunPage, fmt_duration, summary_text
from gui.widgets.curve_specs import plot_key
from gui.widgets.live_plots import LivePlots, short_layer_name, strip_common_prefix
from gui.widgets.weight_histogram import zero_fraction
from tests.gui.conftest import fast_recipe
from tests.gui.test_weight_histogram import gradual_recipe


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


def test_loss_components_each_get_a_line_on_the_loss_plot(qtbot):
    # a training objective's named parts (train/loss/<part>) are plotted next to the total
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.timer.stop()
    for step in range(3):
        plots.on_event(Metric("train/loss", step, 2.0 - step))
        plots.on_event(Metric("train/loss/kd", step, 1.5 - step))
        plots.on_event(Metric("train/loss/task", step, 0.5))
    plots.redraw()
    assert _legend(plots, "loss") == ["train loss", "loss: kd", "loss: task"]
    pens = {n: plots.curves[n].opts["pen"].color().name() for n in plots.curves}
    assert len({pens["train/loss"], pens["train/loss/kd"], pens["train/loss/task"]}) == 3
    assert list(plots.curves["train/loss/kd"].getData()[1]) == [1.5, 0.5, -0.5]
    plots.on_event(Metric("train/loss/agreement", 2, 0.4))  # a rate: with the metrics, not losses
    plots.redraw()
    assert "teacher agreement (top-1)" in _legend(plots, "val")
    assert "teacher agreement (top-1)" not in _legend(plots, "loss")
    # the teacher's metric, sent once at step 0: a dashed line carried to the newest step
    plots.on_event(Metric("teacher/val/perplexity", 0, 6.1))
    plots.on_event(Metric("train/loss", 30, 0.2))
    plots.redraw()
    x, y = plots.curves["teacher/val/perplexity"].getData()
    assert x[-1] == 30 and set(y) == {6.1}
    assert plots.curves["teacher/val/perplexity"].opts["pen"].style() == Qt.PenStyle.DashLine


def test_short_layer_names():
    assert short_layer_name("blocks.0.attn.qkv") == "b0.attn.qkv"
    assert strip_common_prefix(["bert.encoder.layer.0.output.dense", "bert.encoder.layer.1.output.dense"]) == [
        "layer.0.output.dense", "layer.1.output.dense"]
    assert short_layer_name("layer.11.attention.output.dense") == "L11.attn.out.dense"
    assert len(short_layer_name("a_very_long_module_name.with_another_long_part.and_more")) == 22


def test_sparsity_target_is_dashed_and_runs_ahead_of_the_run(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.timer.stop()
    # the schedule announces its whole target curve at the start, in one burst
    for step, value in ((0, 0.1), (10, 0.3), (20, 0.5), (30, 0.6)):
        plots.on_event(Metric("sparsity/target", step, value))
    plots.on_event(Metric("sparsity/overall", 0, 0.1))
    plots.on_event(Metric("sparsity/overall", 10, 0.29))
    for step in range(1, 16):
        plots.on_event(Metric("train/loss", step, 1.0 / step))
    plots.redraw()
    assert plots.redraws == 3  # target, overall, loss: one setData each for the whole burst
    target = plots.curves["sparsity/target"]
    assert target.opts["pen"].style() == Qt.PenStyle.DashLine
    assert plots.curves["sparsity/overall"].opts["pen"].style() == Qt.PenStyle.SolidLine
    x, y = target.getData()
    # held flat between mask updates, drawn as steps out to the last announced step
    assert list(x) == [0, 10, 10, 20, 20, 30, 30] and list(y) == [0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.6]
    x, y = plots.curves["sparsity/overall"].getData()
    assert list(x) == [0, 10, 10, 15] and list(y) == [0.1, 0.1, 0.29, 0.29]  # carried to now
    plots.on_event(Metric("train/loss", 16, 0.06))
    plots.redraw()
    assert plots.curves["sparsity/overall"].getData()[0][-1] == 16
    plots.on_event(LayerStats(10, {"fc1": 0.2, "fc2": 0.38}))
    plots.redraw()
    assert plots.layer_bars.target.isVisible() and plots.layer_bars.target.value() == 0.3


def test_gradual_pruning_run_shows_target_bars_and_histograms(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    seen: list = []
    page.runner.event.connect(seen.append)
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start(gradual_recipe())
    assert ended.args[0].status == "finished", ended.args[0].error
    page.plots.redraw()
    plots = page.plots
    tx, ty = plots.buffers["sparsity/target"].data()
    assert len(tx) >= 3 and np.all(np.diff(tx) > 0) and np.all(np.diff(ty) >= 0)
    assert ty[-1] == 0.5  # the schedule ends at the recipe's amount
    ox, oy = plots.buffers["sparsity/overall"].data()
    assert list(ox) == list(tx) and abs(oy[-1] - 0.5) < 0.01  # measured at every mask update
    assert plots.curves["sparsity/target"].opts["pen"].style() == Qt.PenStyle.DashLine
    assert plots.plots["sparsity"].isVisible() and plots.histogram.isVisible()
    # per-layer bars are the last mask update's, with the target marked
    last_stats = [e for e in seen if isinstance(e, LayerStats)][-1]
    assert plots.layer_bars.names == list(last_stats.values)
    assert np.allclose(plots.layer_bars.values, list(last_stats.values.values()))
    assert plots.layer_bars.target.value() == 0.5
    hists = [e for e in seen if isinstance(e, WeightHistogram)]
    view = plots.histogram
    assert view.layers() == list(dict.fromkeys(e.layer for e in hists))  # as they appeared
    assert set(view.layers()) == set(last_stats.values) and view.layer() == view.layers()[0]
    now = [e for e in hists if e.layer == view.layer() and e.phase == "now"][-1]
    assert np.array_equal(view.now_curve.getData()[1], now.counts)
    assert view.caption.text() == f"zeros: {zero_fraction(now):.1%} (before 0.0%)"


def test_sparsity_views_hide_for_runs_that_do_not_prune(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.show()
    assert page.plots.histogram.isVisible()
    app_state.set_recipe(fast_recipe().replace(methods=()))
    assert not page.plots.histogram.isVisible() and not page.plots.layer_bars.isVisible()
    assert page.plots.plots["loss"].isVisible()


def test_a_cancelled_run_with_a_checkpoint_can_be_continued(qtbot, app_state):
    """Cancel after the first training checkpoint; Continue run finishes the same run."""
    recipe = fast_recipe()
    recipe = recipe.replace(train=dataclasses.replace(recipe.train, max_steps=12, checkpoint_every=2,
                                                      log_every=1, eval_every=100))
    page = RunPage(app_state)
    qtbot.addWidget(page)

    def cancel_after_checkpoint(ev):
        if isinstance(ev, Metric) and ev.name == "train/loss" and ev.step == 3:
            page.cancel()

    page.runner.event.connect(cancel_after_checkpoint)
    with qtbot.waitSignal(page.run_ended, timeout=60000):
        assert page.start(recipe)
    first = page.last_result
    assert first.status == "cancelled" and page.resumable_run() == first.run_id
    assert not page.continue_button.isHidden() and "Continue run picks up" in page.status.text()
    page.runner.event.disconnect(cancel_after_checkpoint)
    with qtbot.waitSignal(page.run_ended, timeout=60000):
        assert page.continue_run()
    assert page.last_result.status == "finished" and page.last_result.run_id == first.run_id
    assert page.continue_button.isHidden()
    assert app_state.workspace.get(first.run_id).status == "finished"


def _legend(plots: LivePlots, key: str) -> list[str]:
    return [label.text for _sample, label in plots.plots[key].getPlotItem().legend.items]


def test_each_run_starts_with_clean_plots(qtbot, app_state):
    """Run 1's curves, legend entries and zoomed ranges are gone when run 2 starts."""
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    with qtbot.waitSignal(page.run_ended, timeout=60000):
        assert page.start()
    plots = page.plots
    plots.redraw()
    loss_item = plots.plots["loss"].getPlotItem()
    assert _legend(plots, "loss") == ["train loss", "val loss"]
    assert _legend(plots, "sparsity")  # run 1 pruned
    run1_items = list(loss_item.listDataItems())
    loss_item.vb.setRange(xRange=(100, 200), yRange=(-5, -4))  # the user zoomed somewhere
    assert not loss_item.vb.autoRangeEnabled()[0]
    # run 2 prunes nothing: no sparsity curves may be left over from run 1
    recipe = fast_recipe().replace(methods=())
    with qtbot.waitSignal(plots.timer.timeout, timeout=5000):
        assert page.start(recipe)
    assert not any(item in loss_item.listDataItems() for item in run1_items)
    assert all(loss_item.vb.autoRangeEnabled())
    assert plots.layer_bars.names == [] and plots.histogram.layers() == []
    with qtbot.waitSignal(page.run_ended, timeout=60000):
        pass
    plots.redraw()
    assert _legend(plots, "loss") == ["train loss", "val loss"]  # once each, not twice
    assert _legend(plots, "sparsity") == [] and "sparsity/overall" not in plots.curves
    x, _y = plots.curves["train/loss"].getData()
    lo, hi = loss_item.vb.viewRange()[0]
    assert lo <= x.min() and x.max() <= hi  # fitted to run 2, not run 1's zoom


def test_a_single_point_is_visible_on_a_sensible_range(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 500)
    plots.show()
    plots.timer.stop()
    plots.on_event(Metric("train/loss", 0, 5.0))
    plots.redraw()
    curve = plots.curves["train/loss"]
    assert curve.opts["symbol"] == "o"  # a line through one point would draw nothing
    vb = plots.plots["loss"].getPlotItem().vb
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 < 0 < x1 and x1 - x0 <= 3
    assert y0 < 5.0 < y1 and 0.5 <= y1 - y0 <= 2  # about ±10 %, not ±0.5 of some old scale
    for step in (1, 2, 3):
        plots.on_event(Metric("train/loss", step, 5.0 - step))
    plots.redraw()
    assert curve.opts["symbol"] is None and all(vb.autoRangeEnabled())


def test_a_constant_series_keeps_its_x_range_on_the_steps(qtbot):
    """Peak memory often reads the same at every report: its y range is padded around the
    value, and its x range still spans the steps (not the first point's ±0.05)."""
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 500)
    plots.show()
    plots.timer.stop()
    for step in (1, 5, 10):
        plots.on_event(Metric("memory/peak_rss_mb", step, 432.0))
        plots.redraw()
    vb = plots.plots[plot_key("memory/peak_rss_mb")].getPlotItem().vb
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 <= 1 and x1 >= 10 and x1 - x0 < 12
    assert y0 < 432.0 < y1


def test_structured_run_shows_what_each_layer_lost(qtbot, app_state):
    structured = method_config_class("structured_prune")
    recipe = fast_recipe().replace(name="structured", methods=(structured(target="ffn", amount=0.5),))
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start(recipe)
        # before the pruning step: a message that fits, not "waiting for the pruning step…"
        assert page.plots.layer_bars.waiting_text().startswith("structured steps shrink layers")
        assert page.plots.layer_bars.kind == "removed"
    assert ended.args[0].status == "finished", ended.args[0].error
    plots = page.plots
    plots.redraw()
    bars = plots.layer_bars
    assert bars.isVisible() and bars.kind == "removed" and bars.waiting_text() == ""
    assert bars.names and all(0.45 < v < 0.55 for v in bars.values)  # half of each FFN's neurons
    assert bars.names == [f"blocks.{i}.mlp.{p}" for i in range(4) for p in ("fc", "proj")]
    assert "removed" in bars.title()
    # no zeros to count in a structured run: the views that would wait forever are not shown
    assert not plots.histogram.isVisible() and not plots.plots["sparsity"].isVisible()


def test_baseline_stage_reports_progress(qtbot, app_state, tmp_path):
    app_state.set_workspace(tmp_path / "fresh")  # no baseline yet: this run builds it
    page = RunPage(app_state)
    qtbot.addWidget(page)
    seen: list = []
    page.runner.event.connect(seen.append)
    labels: list[str] = []
    page.runner.event.connect(lambda _e: labels.append(page.stage_label.text()))
    recipe = fast_recipe()
    recipe = recipe.replace(data=dataclasses.replace(recipe.data, max_samples=2000))
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start(recipe)
    assert ended.args[0].status == "finished", ended.args[0].error
    stages = [i for i, e in enumerate(seen) if isinstance(e, StageStarted)]
    start = next(i for i in stages if seen[i].stage == "baseline")
    end = next(i for i in stages if i > start)
    progress = [e for e in seen[start:end] if isinstance(e, Progress)]
    evaluating = [e for e in progress if e.message.startswith("evaluating batch")]
    assert len(evaluating) >= 2, [e.message for e in progress]
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0.08 <= fractions[0] and fractions[-1] <= 0.2
    assert any(t.startswith("measuring the baseline — evaluating batch") for t in labels)


def test_eta_counts_down_between_progress_events(qtbot, app_state):
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.eta_timer.start()
    page._on_event(Progress(0.5, "step 10/20", 5.0))
    assert page.eta_label.text() == "ETA 5 s"
    qtbot.waitUntil(lambda: page.eta_label.text() in ("ETA 3 s", "ETA 2 s"), timeout=4000)
    page._on_event(Progress(1.0, "done", 0.0))
    assert page.eta_label.text() == ""


def test_per_layer_bars_scroll_through_many_layers(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(1000, 600)
    plots.show()
    names = [f"model.layers.{i}.mlp.down_proj" for i in range(60)]
    plots.on_event(LayerStats(0, {n: i / 60 for i, n in enumerate(names)}))
    plots.redraw()
    bars = plots.layer_bars
    assert bars.scroll.isVisible() and bars.scroll.maximum() == 60 - bars.shown > 0
    assert f"{bars.shown} of 60 layers shown" in bars.scroll.toolTip()
    bars.scroll.setValue(20)
    top, bottom = bars.plot.getPlotItem().vb.viewRange()[1]
    assert round(top + 0.6) == 20 and bottom < 20 + bars.shown


def test_torch_lazy_imports_are_preloaded_off_the_gui_thread(qtbot, app_state):
    """torch._dynamo (imported by the first optimizer) is loaded early, in a worker thread."""
    import sys

    from PySide6.QtWidgets import QApplication

    page = RunPage(app_state)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page._warm_up is not None, timeout=5000)
    call = page._warm_up
    assert call.thread is not QApplication.instance().thread()  # its own QThread
    assert call.wait(30000) and "torch._dynamo" in sys.modules


def test_a_new_recipe_does_not_relabel_the_last_runs_plots(qtbot, app_state):
    """After a run, opening another recipe names it as next, and the plots as the last run's."""
    page = RunPage(app_state)
    qtbot.addWidget(page)
    page.show()
    ran = app_state.recipe
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        assert page.start()
        app_state.set_recipe(ran.replace(name="changed-while-running", methods=()))
        assert page.title.text() == f"Run — {ran.name}"  # still the job that runs
    assert ended.args[0].status == "finished", ended.args[0].error
    app_state.set_recipe(ran.replace(name="dense-next", methods=()))
    assert page.title.text() == "Run — dense-next"
    assert ran.name in page.recipe_line.text() and "last run" in page.recipe_line.text()
    assert page.plots.layer_bars.isVisible()  # the last run's sparsity views stay with its curves
    assert len(page.plots.buffers["train/loss"]) > 0


def test_each_recipe_gets_the_layer_views_that_fit_it():
    from pathlib import Path

    from engine.recipe import Recipe
    from gui.pages.run_text import sparsity_mode

    recipes = Path(__file__).resolve().parents[2] / "assets" / "recipes"
    mode = {name: sparsity_mode(Recipe.load(recipes / f"{name}.yaml"))
            for name in ("demo", "minilm-bbc-structured50", "distill-tiny-gpt",
                         "quantize-int8-dynamic-tiny")}  # fmt: skip
    # masks to count; layers that shrink; a student that drops whole blocks and a quantized
    # file have no per-layer view to fill
    assert mode == {"demo": "masks", "minilm-bbc-structured50": "structured",
                    "distill-tiny-gpt": "none", "quantize-int8-dynamic-tiny": "none"}  # fmt: skip
