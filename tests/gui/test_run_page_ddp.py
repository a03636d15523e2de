"""The Run page runs a 2-process ddp recipe as a QProcess (the CLI starts torchrun) and shows
rank 0's events like an in-process run, a row per rank, and pauses and resumes every rank:
real Qt offscreen, real gloo processes on CPU."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from engine.events import Log, Metric, RankState
from engine.recipe import Recipe
from engine.store import Workspace
from gui.process_runner import ProcessJobRunner
from gui.runner import JobRunner

ROOT = Path(__file__).resolve().parents[2]
DDP_RECIPE = ROOT / "assets" / "recipes" / "tiny-gpt-ddp.yaml"


def short_ddp_recipe() -> Recipe:
    """The shipped 2-process recipe, cut to seconds: 2 steps on a few short samples, no export."""
    recipe = Recipe.from_yaml(DDP_RECIPE.read_text())
    train = dataclasses.replace(recipe.train, max_steps=2, batch_size=4, eval_every=2,
                                eval_batches=1, log_every=1)  # fmt: skip
    data = dataclasses.replace(recipe.data, max_length=16, max_samples=40)
    return recipe.replace(train=train, data=data,
                          export=dataclasses.replace(recipe.export, enabled=False))  # fmt: skip


PAUSE_STEPS = 30  # enough that a Pause clicked at step 1 lands well before the end


@pytest.fixture(scope="module")
def ddp_page_run(qapp, tmp_path_factory):
    """One 2-process run through the Run page, paused after its first step, resumed and
    finished: the page, its state, the events received, the result and what the pause saw."""
    from gui.pages.run_page import RunPage
    from gui.state import AppState

    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the CLI, torchrun and both ranks
    recipe = short_ddp_recipe()
    recipe = recipe.replace(train=dataclasses.replace(recipe.train, max_steps=PAUSE_STEPS,
                                                      epochs=100, eval_every=PAUSE_STEPS))  # fmt: skip
    state = AppState(Workspace(tmp_path_factory.mktemp("ddp-ws")), recipe)
    page = RunPage(state)
    page.resize(1100, 800)
    events: list = []
    page.runner.event.connect(events.append)
    ended: list = []
    page.run_ended.connect(ended.append)
    assert page.start()
    assert isinstance(page.runner.active, ProcessJobRunner)  # not the in-process thread
    assert page.pause_button.isEnabled() and page.cancel_button.isEnabled()
    assert not page.ranks.isHidden()  # the page itself is not shown here
    from pytestqt.qtbot import QtBot

    bot = QtBot(qapp)
    bot.waitUntil(lambda: len(_losses(events)) >= 1, timeout=120000)
    page.pause_button.click()  # writes the control file; rank 0 reads it, every rank pauses
    assert page.resume_button.isEnabled() and not page.pause_button.isEnabled()
    bot.waitUntil(lambda: _said(events, "paused"), timeout=30000)
    bot.waitUntil(lambda: [page.ranks.state_of(r) for r in (0, 1)] == ["paused"] * 2, timeout=5000)
    at_pause = len(_losses(events))
    bot.wait(1500)  # paused: no step may arrive
    paused = {"at": at_pause, "after": len(_losses(events)), "rows": page.ranks.states.copy()}
    page.resume_button.click()
    bot.waitUntil(lambda: bool(ended), timeout=120000)
    yield page, state, events, ended[0], paused
    page.deleteLater()


def _losses(events: list) -> list:
    return [e for e in events if isinstance(e, Metric) and e.name == "train/loss"]


def _said(events: list, message: str) -> bool:
    return any(isinstance(e, Log) and e.message == message for e in events)


def test_the_run_page_draws_a_ddp_run_from_the_process_and_ends_finished(ddp_page_run):
    page, state, events, result, _ = ddp_page_run
    assert result.status == "finished", result.error
    losses = _losses(events)
    # rank 0's steps, relayed as events: every step once, through the pause
    assert [e.step for e in losses] == list(range(1, PAUSE_STEPS + 1))
    assert len(page.plots.buffers["train/loss"]) == PAUSE_STEPS
    assert page.status.text().startswith(f"✔ finished {result.run_id}")
    assert page.progress.value() == 1000 and page.start_button.isEnabled()
    assert "batch 4 × 2 processes (ddp)" in page.recipe_line.text()
    assert "2 processes under torchrun" in page.log.toPlainText()
    assert not page.pause_button.isEnabled() and not page.resume_button.isEnabled()
    # rank 0 alone registered the run (and the baseline it is compared with), once each
    variants = state.workspace.variants()
    runs = [v for v in variants if v.parent is not None]
    assert [v.id for v in runs] == [result.run_id] and len(variants) == 2
    card = state.workspace.get(result.run_id).card
    assert card["train"]["strategy"] == "ddp" and card["train"]["world_size"] == 2


def test_pause_holds_both_ranks_and_resume_goes_on_with_a_row_per_rank(ddp_page_run):
    page, _state, events, _result, paused = ddp_page_run
    assert 1 <= paused["at"] < PAUSE_STEPS  # paused mid-run...
    assert paused["after"] == paused["at"]  # ... and no train step came while paused
    assert {r: s.state for r, s in paused["rows"].items()} == {0: "paused", 1: "paused"}
    assert _said(events, "resumed")
    # the rows: both ranks reported every step, and the run's end says finished
    rows = [e for e in events if isinstance(e, RankState) and e.state == "running"]
    assert {(e.rank, e.step) for e in rows if e.step} == {
        (r, s) for s in range(1, PAUSE_STEPS + 1) for r in (0, 1)}
    assert [page.ranks.state_of(r) for r in (0, 1)] == ["finished", "finished"]
    cells = [page.ranks.item(1, c).text() for c in range(page.ranks.columnCount())]
    assert cells[:4] == ["1", rows[-1].host, "cpu", str(PAUSE_STEPS)] and "samples/s" in cells[4]
    assert cells[5].endswith("MB RSS") and cells[6] == "finished"


def test_a_single_process_recipe_still_runs_in_the_thread(qapp):
    from gui.recipe_runner import RecipeRunner

    runner = RecipeRunner()
    recipe = short_ddp_recipe()
    assert isinstance(runner.runner_for(recipe), ProcessJobRunner)
    one = recipe.replace(train=dataclasses.replace(recipe.train, nproc_per_node=1))
    assert isinstance(runner.runner_for(one), JobRunner)
    single = recipe.replace(train=dataclasses.replace(recipe.train, strategy="single"))
    assert isinstance(runner.runner_for(single), JobRunner)


@pytest.mark.slow  # ~20 s more (torchrun and 2 ranks start again); the CLI's Ctrl+C test runs by default
def test_cancel_on_the_run_page_stops_every_rank_and_records_the_run_cancelled(qtbot, tmp_path):
    from gui.pages.run_page import CANCELLED_TEXT, RunPage
    from gui.state import AppState

    os.environ["OMP_NUM_THREADS"] = "1"
    recipe = short_ddp_recipe()
    recipe = recipe.replace(train=dataclasses.replace(recipe.train, max_steps=2000, epochs=1000,
                                                      eval_every=100000))  # fmt: skip
    state = AppState(Workspace(tmp_path / "ws"), recipe)
    page = RunPage(state)
    qtbot.addWidget(page)
    assert page.start()
    qtbot.waitUntil(lambda: len(page.plots.buffers.get("train/loss", ())) >= 2, timeout=120000)
    with qtbot.waitSignal(page.run_ended, timeout=60000) as ended:
        page.cancel_button.click()  # SIGINT to the CLI, which cancels both ranks together
    assert ended.args[0].status == "cancelled", ended.args[0].error
    assert page.status.text().startswith(CANCELLED_TEXT)
    assert not page.runner.running and page.runner.active.process.state().name == "NotRunning"
    runs = [v for v in state.workspace.variants() if v.parent is not None]
    assert [(v.id, v.status) for v in runs] == [(ended.args[0].run_id, "cancelled")]
