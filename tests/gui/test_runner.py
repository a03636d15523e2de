"""JobRunner with a real tiny job: live plot data, responsiveness, pause/resume, cancel."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer

from engine.events import Log, Metric
from gui.runner import BUSY_MESSAGE, JobRunner, ProcessJobRunner
from gui.widgets.live_plots import LivePlots
from gui.widgets.ring_buffer import RingBuffer
from tests.gui.conftest import fast_recipe


def test_runner_streams_pauses_resumes_and_cancels(qtbot, app_state):
    runner = JobRunner()
    plots = LivePlots()
    qtbot.addWidget(plots)
    events: list = []
    runner.event.connect(events.append)
    runner.event.connect(plots.on_event)
    results: list = []
    runner.finished.connect(results.append)
    refused: list[str] = []
    runner.refused.connect(refused.append)

    # each tick of a GUI-thread timer records how far training had got; a job
    # that blocked the GUI thread would let no tick through between its steps
    seen_at_tick: list[int] = []
    ticker = QTimer()
    ticker.setInterval(20)
    ticker.timeout.connect(lambda: seen_at_tick.append(_train_steps(events)))
    ticker.start()

    # enough steps that the job is surely still training when we cancel it
    recipe = fast_recipe(max_steps=500, eval_every=1000)
    assert runner.start(recipe, app_state.workspace)
    assert runner.running
    assert not runner.start(recipe, app_state.workspace)  # one job at a time
    assert refused == [BUSY_MESSAGE]

    qtbot.waitUntil(lambda: len(plots.buffers.get("train/loss", ())) >= 2, timeout=30000)
    n = len(plots.buffers["train/loss"])
    qtbot.waitUntil(lambda: len(plots.buffers["train/loss"]) > n, timeout=10000)  # it grows
    x, y = plots.buffers["train/loss"].data()
    assert list(x) == sorted(x) and all(v > 0 for v in y)
    # the GUI thread kept turning while the job trained: the timer fired at several
    # different points of training (no wall-clock bound, which a loaded CI box breaks)
    qtbot.waitUntil(lambda: len({s for s in seen_at_tick if s > 0}) >= 3, timeout=15000)
    qtbot.wait(2 * 50)
    assert plots.redraws > 0

    runner.pause()
    assert runner.paused
    qtbot.waitUntil(lambda: any(isinstance(e, Log) and e.message == "paused" for e in events), timeout=15000)
    steps_when_paused = _train_steps(events)
    qtbot.wait(600)
    assert _train_steps(events) == steps_when_paused  # nothing trained while paused
    runner.resume()
    assert not runner.paused
    qtbot.waitUntil(lambda: _train_steps(events) > steps_when_paused, timeout=15000)

    with qtbot.waitSignal(runner.finished, timeout=30000):
        runner.cancel()
    result = results[-1]
    assert result.status == "cancelled"
    assert not runner.running
    assert runner.wait(5000)
    statuses = {v.id: v.status for v in app_state.workspace.variants()}
    assert statuses[result.run_id] == "cancelled"
    assert "finished" != statuses[result.run_id]
    ticker.stop()


def _train_steps(events: list) -> int:
    return sum(1 for e in events if isinstance(e, Metric) and e.name == "train/loss")


def test_process_runner_parses_json_event_lines(qtbot, app_state):
    """The QProcess route: JSON lines from a child become the same event signals."""
    script = (
        "from engine.events import *\n"
        "for e in (StageStarted('train'), Metric('train/loss', 1, 2.5), Log('hi'), "
        "Finished('r1', {'metrics.loss': 2.5})):\n"
        "    print(event_to_json(e), flush=True)\n"
        "print('not json from a library')\n"
    )
    runner = ProcessJobRunner(command=lambda recipe, ws: [sys.executable, "-c", script])
    events: list = []
    runner.event.connect(events.append)
    with qtbot.waitSignal(runner.finished, timeout=30000) as done:
        assert runner.start(fast_recipe(), app_state.workspace)
    assert done.args[0].status == "finished" and done.args[0].run_id == "r1"
    assert Metric("train/loss", 1, 2.5) in events
    assert Log("not json from a library") in events
    assert not runner.running


def test_ring_buffer_keeps_the_newest_points():
    buf = RingBuffer(capacity=4)
    assert len(buf) == 0 and buf.last() is None
    for i in range(6):
        buf.append(i, i * 10)
    x, y = buf.data()
    assert list(x) == [2, 3, 4, 5] and list(y) == [20, 30, 40, 50]
    assert buf.last() == (5.0, 50.0) and buf.version == 6
