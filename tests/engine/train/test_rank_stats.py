"""Per-rank rows and the control file, without torchrun: the RankState event's JSON round trip,
the gathering in a gloo world of one, the relay's failed-rank row, and the control-file watcher
pausing and resuming a real JobControl."""

from __future__ import annotations

import time

import pytest
import torch

from engine.cli.control_file import ControlWatcher, read_control, watching, write_control
from engine.cli.relay import failure_events
from engine.context import JobContext, JobControl
from engine.events import Failed, RankState, event_from_json, event_to_json
from engine.train.loss_watch import LossWindow
from engine.train.rank_stats import LAST, announce, gather_states, own_state, rank_report
from engine.train.strategy import DDP


def test_rank_state_round_trips_through_json():
    ev = RankState(1, 2, host="node-a", device="cuda:1", step=7, samples_per_s=12.5,
                   tokens_per_s=400.0, peak_mb=1234.5, state="failed", error="ValueError: x")  # fmt: skip
    line = event_to_json(ev)
    assert '"event": "RankState"' in line
    assert event_from_json(line) == ev
    assert event_from_json(event_to_json(RankState(0, 2))).state == "running"


def test_own_state_counts_this_ranks_window_and_memory():
    window = LossWindow(torch.zeros(()), time.perf_counter() - 2.0)
    window.add(torch.tensor(1.0), 8, tokens=torch.tensor(64))
    s = own_state(window, 5, 2, 1, torch.device("cpu"))
    assert (s.rank, s.world, s.step, s.device, s.state) == (1, 2, 5, "cpu", "running")
    assert 3.0 < s.samples_per_s < 4.1 and 30.0 < s.tokens_per_s < 32.1  # 8 and 64 in ~2 s
    assert s.peak_mb > 10 and s.host  # this process's peak RSS, in MB


def test_gathering_in_a_gloo_world_and_rank_0_re_emitting_its_rows_on_pause(world_of_one):
    mine = RankState(0, 1, host="h", step=3, samples_per_s=2.0)
    # through the collective itself (world 1: the all_gather of one)
    import torch.distributed as dist

    out: list = [None]
    dist.all_gather_object(out, {"x": 1})
    assert out == [{"x": 1}] and gather_states(mine, 1) == [mine]
    # a world of two, as rank 0 sees it after the gather: rows emitted, paused/resumed re-emitted
    strategy = DDP(torch.device("cpu"))
    strategy.world_size = 2  # the report is what matters here, not the collective
    events: list = []
    ctx = JobContext(events.append, JobControl())
    setattr(strategy, LAST, [RankState(0, 2, step=3), RankState(1, 2, step=3)])
    announce(ctx, strategy, "paused")
    assert [(e.rank, e.state, e.step) for e in events] == [(0, "paused", 3), (1, "paused", 3)]
    strategy.is_main = False  # the other ranks say nothing
    announce(ctx, strategy, "running")
    assert len(events) == 2


def test_a_single_process_reports_no_rank_rows():
    from engine.train.strategy import SingleDevice

    events: list = []
    window = LossWindow(torch.zeros(()), time.perf_counter())
    window.add(torch.tensor(1.0), 4)
    rank_report(JobContext(events.append, JobControl()), window, 1, SingleDevice(),
                torch.device("cpu"))  # fmt: skip
    assert events == []


def test_the_relay_marks_the_rank_that_failed_before_the_failed_event():
    row, failed = failure_events("run-1", "rank 1: ValueError during train: boom")
    assert isinstance(row, RankState) and (row.rank, row.state) == (1, "failed")
    assert row.error == "ValueError during train: boom"
    assert failed == Failed("run-1", "rank 1: ValueError during train: boom")
    row, _ = failure_events("", "training process of local rank 3 died (killed by SIGKILL)")
    assert row.rank == 3 and "died (killed by SIGKILL)" in row.error


def test_read_control_takes_run_or_pause_and_nothing_else(tmp_path):
    path = tmp_path / "control"
    assert read_control(path) is None  # missing
    write_control(path, "pause")
    assert read_control(path) == "pause" and not (tmp_path / "control.tmp").exists()
    path.write_text("  RUN \n")
    assert read_control(path) == "run"
    path.write_text("stop")
    assert read_control(path) is None
    with pytest.raises(ValueError, match="use one of run, pause"):
        write_control(path, "stop")


def test_the_watcher_pauses_and_resumes_the_job_when_the_word_changes(tmp_path):
    path = tmp_path / "control"
    write_control(path, "run")
    control = JobControl()
    with watching(path, control) as watcher:
        assert isinstance(watcher, ControlWatcher) and not control.paused
        write_control(path, "pause")
        _until(lambda: control.paused)
        write_control(path, "run")
        _until(lambda: not control.paused)
        # a cancel wakes a paused job, and a file still saying pause does not hold it again
        write_control(path, "pause")
        _until(lambda: control.paused)
        control.cancel()
        time.sleep(3 * watcher.interval)
        assert not control.paused and control.cancelled.is_set()
    assert not watcher._thread.is_alive()


def test_a_file_that_says_pause_at_the_start_holds_the_job_from_its_start(tmp_path):
    path = tmp_path / "control"
    write_control(path, "pause")
    control = JobControl()
    with watching(path, control):
        assert control.paused  # before the first poll interval
    with watching(None, control) as nothing:
        assert nothing is None


def _until(condition, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the watcher did not act in time"
        time.sleep(0.02)
