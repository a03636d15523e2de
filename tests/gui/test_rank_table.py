"""The Run page's row per rank, from replayed events of a 2-rank run (no torchrun): numbers,
pause and resume, the relay's failed row, the run's end; the pausable process runner's control
file; the table hidden for a single-process recipe."""

from __future__ import annotations

import dataclasses
import sys

from engine.cli.control_file import read_control
from engine.cli.relay import failure_events
from engine.events import Cancelled, Failed, Finished, Log, Metric, RankState, event_to_json
from engine.recipe import Recipe
from engine.store import Workspace
from gui.recipe_runner import PausableProcessRunner, RecipeRunner
from gui.widgets.rank_table import RankTable, fmt_rate
from tests.conftest import ROOT

ROW = RankState(0, 2, host="node-a", device="cpu", step=3, samples_per_s=41.7,
                tokens_per_s=1234.0, peak_mb=612.4)  # fmt: skip


def _cells(table: RankTable, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_rows_show_each_ranks_numbers_and_follow_pause_resume_and_the_end(qtbot):
    table = RankTable()
    qtbot.addWidget(table)
    assert not table.on_event(Metric("train/loss", 1, 2.0)) and table.rowCount() == 0
    table.on_event(ROW)
    # the world is 2: rank 1 has a row before its first report
    assert table.rowCount() == 2 and _cells(table, 1)[-1] == "waiting"
    table.on_event(dataclasses.replace(ROW, rank=1, samples_per_s=40.0, tokens_per_s=980.0))
    assert _cells(table, 0) == ["0", "node-a", "cpu", "3", "41.7 samples/s · 1.2k tok/s",
                                "612 MB RSS", "running"]  # fmt: skip
    assert _cells(table, 1)[4] == "40.0 samples/s · 980.0 tok/s"
    for rank in (0, 1):
        table.on_event(dataclasses.replace(ROW, rank=rank, state="paused"))
    assert [table.state_of(r) for r in (0, 1)] == ["paused", "paused"]
    table.on_event(dataclasses.replace(ROW, rank=1, step=4))
    table.on_event(Finished("run-1"))
    assert [table.state_of(r) for r in (0, 1)] == ["finished", "finished"]
    assert _cells(table, 1)[3] == "4"
    table.on_event(Cancelled("run-1"))
    assert table.state_of(0) == "cancelled"
    table.reset()
    assert table.rowCount() == 0 and table.states == {}


def test_a_rank_that_died_says_failed_with_its_error_and_keeps_its_last_numbers(qtbot):
    table = RankTable()
    qtbot.addWidget(table)
    for rank in (0, 1):
        table.on_event(dataclasses.replace(ROW, rank=rank))
    for ev in failure_events("run-1", "training process of local rank 1 died (killed by SIGKILL)"):
        table.on_event(ev)  # the relay's row, then the run's Failed
    row = _cells(table, 1)
    assert row[-1] == "failed: training process of local rank 1 died (killed by SIGKILL)"
    assert row[3] == "3" and row[5] == "612 MB RSS"  # its last report's numbers stay
    assert table.state_of(0) == "stopped"  # rank 0 did not fail: the run stopped under it
    table.on_event(Failed("run-1", "x"))
    assert table.state_of(1) == "failed"


def test_rates_read_short():
    assert fmt_rate(12.345, "samples") == "12.3 samples/s"
    assert fmt_rate(45678, "tok") == "45.7k tok/s"


def test_the_process_runner_pauses_through_its_control_file_and_removes_it(qtbot, tmp_path):
    # a child that stands for the CLI: it prints its argv's control-file word as a Log line
    # at each change, and ends when the file says run after pause
    script = (
        "import json,sys,time,pathlib\n"
        "p=pathlib.Path(sys.argv[sys.argv.index('--control-file')+1]); seen=[]\n"
        "while seen[-2:]!=['pause','run']:\n"
        "    w=p.read_text().strip()\n"
        "    if not seen or seen[-1]!=w:\n"
        "        seen.append(w); print(json.dumps({'event':'Log','message':w,'level':'info'}),flush=True)\n"
        "    time.sleep(0.02)\n"
        "print(json.dumps({'event':'Finished','run_id':'r','summary':{}}),flush=True)\n"
    )
    runner = PausableProcessRunner(command=lambda path, ws: [sys.executable, "-c", script, "run",
                                                             str(path)])  # fmt: skip
    events: list = []
    runner.event.connect(events.append)
    assert not runner.can_pause
    assert runner.start(Recipe(), Workspace(tmp_path / "ws"))
    path = runner.control_path
    assert runner.can_pause and read_control(path) == "run"
    qtbot.waitUntil(lambda: [e.message for e in events if isinstance(e, Log)] == ["run"])
    runner.pause()
    assert runner.paused and read_control(path) == "pause"
    qtbot.waitUntil(lambda: len(events) == 2)
    with qtbot.waitSignal(runner.finished, timeout=10000) as done:
        runner.resume()
    assert not runner.paused and done.args[0].status == "finished"
    assert [e.message for e in events if isinstance(e, Log)] == ["run", "pause", "run"]
    assert not path.exists() and not path.parent.exists() and not runner.can_pause


def test_the_page_shows_rank_rows_only_for_a_multi_process_recipe(qtbot, tmp_path):
    from gui.pages.run_page import RunPage
    from gui.state import AppState

    # stand-ins for the CLI: the multi-process one prints two ranks' rows, then Finished
    lines = [event_to_json(dataclasses.replace(ROW, rank=r)) for r in (0, 1)]
    lines.append(event_to_json(Finished("")))
    replay = [sys.executable, "-c", f"print({chr(10).join(lines)!r})", "run", "x"]
    done = [sys.executable, "-c", f"print({event_to_json(Finished(''))!r})", "run", "x"]
    runner = RecipeRunner(thread_runner=PausableProcessRunner(command=lambda p, w: done),
                          process_runner=PausableProcessRunner(command=lambda p, w: replay))  # fmt: skip
    recipe = Recipe.load(ROOT / "assets/recipes/tiny-gpt-ddp.yaml")
    page = RunPage(AppState(Workspace(tmp_path / "ws"), recipe), runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.run_ended, timeout=10000):
        assert page.start()
    assert page.ranks.isVisible() and page.ranks.rowCount() == 2
    assert [page.ranks.state_of(r) for r in (0, 1)] == ["finished", "finished"]
    assert "Pause and Cancel hold or stop every rank" in page.log.toPlainText()
    single = recipe.replace(train=dataclasses.replace(recipe.train, strategy="single"))
    with qtbot.waitSignal(page.run_ended, timeout=10000):
        assert page.start(single)
    assert page.ranks.isHidden() and page.ranks.rowCount() == 0
