"""The Run page's training-setup row on the events of a real bf16 run with accumulation and
clipping: gradient norm, tokens/s and peak memory plotted under the loss; no empty plots."""

from __future__ import annotations

import os

import pytest

from engine.events import Finished, Metric
from tests.gui.conftest import fast_recipe

SETUP = dict(precision="bf16", grad_accum_steps=2, clip_grad_norm=1.0, max_steps=8, eval_every=4)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from engine.job import Job

    root = tmp_path_factory.mktemp("setup-run")
    events: list = []
    recipe = fast_recipe(**SETUP).replace(name="bf16-accum")
    result = Job(recipe, [events.append], workspace=root).run()
    assert result.ok, result.error
    return root, recipe, result, events


def _page(qtbot, root, recipe):
    from gui.pages.run_page import RunPage
    from gui.state import AppState

    page = RunPage(AppState(root, recipe))
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    return page


def _legend(plot) -> list[str]:
    return [label.text for _sample, label in plot.getPlotItem().legend.items]


def test_the_card_records_the_training_setup(run):
    _root, _recipe, result, _events = run
    train = result.card["train"]
    assert {k: train[k] for k in ("precision", "grad_accum_steps", "micro_batch", "effective_batch",
                                  "clip_grad_norm", "grad_checkpointing", "compile")} == {
        "precision": "bf16", "grad_accum_steps": 2, "micro_batch": 4, "effective_batch": 8,
        "clip_grad_norm": 1.0, "grad_checkpointing": False, "compile": False}  # fmt: skip
    assert train["steps"] == 8


def test_the_setup_row_plots_grad_norm_throughput_and_memory(qtbot, run, tmp_path):
    root, recipe, result, events = run
    page = _page(qtbot, root, recipe)
    plots = page.plots
    assert plots.setup.isHidden()  # nothing to show before the run's metrics arrive
    for ev in events:
        page.runner.event.emit(ev)
        if isinstance(ev, Finished):
            break
    page.runner.finished.emit(result)
    plots.redraw()
    row = plots.setup
    assert row.isVisibleTo(page) and row.shown == {"grad", "speed", "memory"}
    assert row.views["scale"].isHidden()  # bf16 has no loss scale: no empty plot for it
    assert _legend(row.views["grad"]) == ["grad norm (before clipping)"]
    assert _legend(row.views["memory"]) == ["peak process RSS"]  # measured on CPU
    for name in ("train/grad_norm", "throughput/tokens_per_s", "memory/peak_rss_mb"):
        assert len(plots.buffers[name]) == 8  # log_every 1
    grad = [e.value for e in events if isinstance(e, Metric) and e.name == "train/grad_norm"]
    assert all(g > 0 for g in grad)
    qtbot.wait(50)
    path = os.path.join(os.environ.get("WB_SHOTS") or str(tmp_path), "run_setup_plots.png")
    assert page.grab().save(path) and os.path.getsize(path) > 10_000
    plots.reset()  # a new run: the row goes until its metrics come again
    assert not row.isVisibleTo(page) and not row.shown


def test_fp16_metrics_show_the_loss_scale_and_skipped_steps(qtbot, run):
    root, recipe, _result, _events = run
    page = _page(qtbot, root, recipe)
    for step, (scale, skipped) in enumerate([(65536.0, 0), (32768.0, 1), (32768.0, 1)], start=1):
        page.runner.event.emit(Metric("train/loss_scale", step, scale))
        page.runner.event.emit(Metric("train/skipped_steps", step, float(skipped)))
    page.runner.event.emit(Metric("memory/peak_mb", 3, 812.0))
    page.plots.redraw()
    row = page.plots.setup
    assert row.shown == {"scale", "memory"}
    assert row.views["scale"].getPlotItem().titleLabel.text == "fp16 loss scale · 1 step skipped"
    assert _legend(row.views["memory"]) == ["peak GPU memory (allocated)"]
