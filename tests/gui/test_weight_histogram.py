"""WeightHistogramView fed with the histograms a real gradual-pruning job emits."""

from __future__ import annotations

import functools
import tempfile

import numpy as np

from engine.events import WeightHistogram
from engine.job import Job
from engine.recipe import Recipe
from engine.registry import method_config_class
from gui.widgets.weight_histogram import WeightHistogramView, zero_fraction, zeros_caption
from tests.gui.conftest import fast_recipe


def gradual_recipe() -> Recipe:
    """The fast GUI recipe with a gradual schedule: masks change at steps 0, 2 and 4.

    Scope "layer": every layer ends at exactly the amount (a global threshold on trained
    weights leaves some layers denser than others).
    """
    prune = method_config_class("unstructured_prune")
    return fast_recipe().replace(
        name="gradual", methods=(prune(amount=0.5, schedule="gradual", update_every=2, scope="layer"),)
    )


@functools.cache
def job_histograms() -> tuple[WeightHistogram, ...]:
    """Every WeightHistogram of one real tiny job (run once per test process)."""
    events: list = []
    with tempfile.TemporaryDirectory() as ws:
        result = Job(gradual_recipe(), [events.append], workspace=ws).run()
    assert result.ok, result.error
    return tuple(e for e in events if isinstance(e, WeightHistogram))


def _latest(events, layer: str, phase: str) -> WeightHistogram:
    return [e for e in events if e.layer == layer and e.phase == phase][-1]


def _view(qtbot) -> WeightHistogramView:
    view = WeightHistogramView()
    qtbot.addWidget(view)
    view.resize(600, 320)
    view.show()
    return view


def test_shows_before_and_now_of_the_selected_layer(qtbot):
    events = job_histograms()
    view = _view(qtbot)
    assert view._empty.isVisible() and view.caption.text() == ""
    for ev in events:
        view.on_event(ev)
    assert view.layers() == []  # the selector fills on the timer's tick, not per event
    view.redraw()
    order = list(dict.fromkeys(e.layer for e in events))
    assert view.layers() == order and view.layer() == order[0]  # the first layer by default
    before, now = _latest(events, order[0], "before"), _latest(events, order[0], "now")
    assert now.step > 0 and before.step == 0
    x, y = view.before_curve.getData()
    assert np.allclose(x, before.edges) and np.array_equal(y, before.counts)
    x, y = view.now_curve.getData()
    assert np.allclose(x, now.edges) and np.array_equal(y, now.counts)
    # half the weights are zero at the end of the schedule; the dense ones had none
    assert 0.45 < zero_fraction(now) < 0.55 and zero_fraction(before) == 0.0
    assert view.caption.text() == f"zeros: {zero_fraction(now):.1%} (before 0.0%)"
    assert view.caption.text().startswith(("zeros: 4", "zeros: 5"))
    assert view.plot.getAxis("bottom").labelText == "|w| (log10)"
    assert not view._empty.isVisible()


def test_switching_layer_switches_data(qtbot):
    events = job_histograms()
    view = _view(qtbot)
    for ev in events:
        view.on_event(ev)
    view.redraw()
    second = view.layers()[1]
    view.select_layer(second)  # redraws at once: a click should not wait for the timer
    now = _latest(events, second, "now")
    assert view.layer() == second
    assert np.array_equal(view.now_curve.getData()[1], now.counts)
    first_counts = _latest(events, view.layers()[0], "now").counts
    assert not np.array_equal(view.now_curve.getData()[1], first_counts)
    assert view.caption.text() == zeros_caption(now, _latest(events, second, "before"))


def test_redraws_per_tick_only_when_the_selected_layer_changed(qtbot):
    events = job_histograms()
    view = _view(qtbot)
    for ev in events:
        view.on_event(ev)
    view.redraw()
    drawn = view.redraws
    view.redraw()
    assert view.redraws == drawn  # nothing new: nothing drawn
    other = next(e for e in events if e.layer != view.layer())
    view.on_event(other)
    view.redraw()
    assert view.redraws == drawn  # another layer's update does not touch this plot
    mine = [e for e in events if e.layer == view.layer()]
    for ev in mine * 20:  # a burst of events is one draw
        view.on_event(ev)
    view.redraw()
    assert view.redraws == drawn + 1
    view.reset()
    assert view.layers() == [] and view.caption.text() == "" and view._empty.isVisible()


def test_zeros_caption_before_pruning():
    ev = WeightHistogram(0, "fc", (0.0, 1.0, 2.0), (3, 1), zeros=4, phase="before")
    assert zero_fraction(ev) == 0.5
    assert zeros_caption(None, ev) == "zeros before pruning: 50.0%"
    assert zeros_caption(None, None) == ""
