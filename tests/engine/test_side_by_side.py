"""Latency of several ONNX files timed side by side in one process."""

from __future__ import annotations

import pytest

from engine.export.runtime import make_session
from engine.export.side_by_side import (
    paired_speedup,
    resolve_threads,
    time_rounds,
    time_side_by_side,
    timing_session,
)
from tests.engine.artifact_models import copy_of, feeds, folder, small_mlp, tiny


def test_every_file_gets_p50_and_p95():
    _, _, bert = tiny("tiny-bert")
    got = time_side_by_side({"bert": bert, "mlp": small_mlp()}, feeds(1, 16), runs=7, warmup=1, threads=1)
    assert set(got) == {"bert", "mlp"}
    for p50, p95 in got.values():
        assert 0 < p50 <= p95


def test_ratio_direction_between_a_big_and_a_small_model():
    """tiny-gpt (4 blocks, 258-way head) at 4 x 64 does far more work than a 16-wide MLP."""
    _, _, gpt = tiny("tiny-gpt")
    got = time_side_by_side({"gpt": gpt, "mlp": small_mlp()}, feeds(4, 64), runs=9, threads=1)
    assert got["gpt"][0] > 3 * got["mlp"][0]


def test_open_sessions_are_reused_not_reopened():
    """A name with a session is never opened from its path (one session per file)."""
    session = make_session(small_mlp(), threads=1)
    missing = folder() / "never-written.onnx"
    got = time_side_by_side({"mlp": missing}, feeds(1, 8), runs=3, warmup=0, sessions={"mlp": session})
    assert got["mlp"][0] > 0
    with pytest.raises(Exception, match="never-written"):
        time_side_by_side({"mlp": missing}, feeds(1, 8), runs=3, threads=1)


def test_thread_count_is_always_a_number():
    assert resolve_threads(3) == 3
    assert 1 <= resolve_threads(None) <= 8
    with pytest.raises(ValueError, match="threads must be at least 1"):
        resolve_threads(0)
    with pytest.raises(ValueError, match="runs must be at least 1"):
        time_side_by_side({"mlp": small_mlp()}, feeds(1, 8), runs=0)
    assert time_side_by_side({}, feeds(1, 8)) == {}


def test_copies_of_one_file_time_alike_with_a_thread_pool():
    """Two-thread sessions timed together: idle pools must not spin on the cores the next
    file needs (with ORT's default spinning one copy read 8x slower than the others here)."""
    _, _, bert = tiny("tiny-bert")
    copies = {f"copy{i}": copy_of(bert, f"tiny-bert-copy{i}.onnx") for i in range(3)}
    session = timing_session(bert, threads=2)
    assert session.get_session_options().get_session_config_entry(
        "session.intra_op.allow_spinning") == "0"
    got = time_side_by_side(copies, feeds(1, 64, 258), runs=30, threads=2)
    p50s = [p50 for p50, _ in got.values()]
    assert max(p50s) < 2.0 * min(p50s), got


def test_paired_speedup_uses_each_rounds_own_ratio():
    """A burst of load on one file in one round moves the p50 ratio, not the paired one."""
    ref = [1.0, 2.0, 3.0, 100.0, 100.0]
    other = [2.0, 4.0, 6.0, 200.0, 1.0]  # always half as fast, but one round caught ref busy
    assert paired_speedup(ref, other) == 0.5
    assert sorted(ref)[2] / sorted(other)[2] == 0.75  # what a ratio of p50s would say


def test_rounds_hold_one_time_per_file_per_round():
    times = time_rounds({"a": small_mlp(), "b": small_mlp()}, feeds(1, 8), runs=6, warmup=0, threads=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 6, "b": 6}
    assert all(t > 0 for v in times.values() for t in v)
