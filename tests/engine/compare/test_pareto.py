"""Pareto fronts on constructed points: ties, duplicates, one point, all on the front."""

from __future__ import annotations

import math

import pytest

from engine.compare.pareto import lower_is_better, metric_front, pareto_front, staircase


def test_latency_vs_accuracy_front():
    # (latency ms, accuracy): 2 beats 1 on both; 3 is slower but more accurate; 4 is dominated by 3
    points = [(10.0, 0.80), (12.0, 0.70), (5.0, 0.60), (20.0, 0.90), (25.0, 0.85)]
    assert pareto_front(points, minimize=(0,), maximize=(1,)) == [0, 2, 3]


def test_tie_on_one_objective_is_dominated():
    # same latency, lower accuracy: dominated; same accuracy, slower: dominated
    points = [(10.0, 0.8), (10.0, 0.7), (12.0, 0.8)]
    assert pareto_front(points, minimize=(0,), maximize=(1,)) == [0]


def test_duplicates_stay_together():
    points = [(10.0, 0.8), (10.0, 0.8), (20.0, 0.5)]
    assert pareto_front(points, minimize=(0,), maximize=(1,)) == [0, 1]


def test_single_point_and_empty():
    assert pareto_front([(3.0, 1.0)]) == [0]
    assert pareto_front([]) == []


def test_all_on_the_front():
    # a strict trade-off: each faster point is less accurate
    points = [(float(i), i / 10) for i in range(6)]
    assert pareto_front(points, minimize=(0,), maximize=(1,)) == list(range(6))


def test_non_finite_points_never_on_front():
    points = [(math.nan, 0.99), (10.0, 0.8), (math.inf, 1.0), (5.0, None)]
    assert pareto_front(points, minimize=(0,), maximize=(1,)) == [1]


def test_minimize_both_and_three_objectives():
    # perplexity: lower is better on both axes
    assert pareto_front([(1.0, 30.0), (2.0, 20.0), (3.0, 25.0)], minimize=(0, 1), maximize=()) == [0, 1]
    # size, latency, accuracy: point 1 is smaller but slower, so both stay; 2 is beaten by 0
    points = [(5.0, 1.0, 0.9), (4.0, 2.0, 0.9), (6.0, 1.5, 0.85)]
    assert pareto_front(points, minimize=(0, 1), maximize=(2,)) == [0, 1]


def test_bad_objectives():
    with pytest.raises(ValueError, match="at least one objective"):
        pareto_front([(1.0, 2.0)], minimize=(), maximize=())
    with pytest.raises(ValueError, match="both minimized and maximized"):
        pareto_front([(1.0, 2.0)], minimize=(0,), maximize=(0,))


def test_metric_direction_from_name():
    assert lower_is_better("perplexity") and lower_is_better("loss") and lower_is_better("val_loss")
    assert not lower_is_better("accuracy") and not lower_is_better("f1")
    xs, ys = [1.0, 2.0, 3.0], [30.0, 20.0, 25.0]
    assert metric_front(xs, ys, "perplexity") == [0, 1]  # 25 at 3 ms is beaten by 20 at 2 ms
    assert metric_front(xs, ys, "accuracy") == [0]  # 30 at 1 ms beats everything slower


def test_staircase_vertices():
    xs, ys = staircase([(20.0, 0.9), (5.0, 0.6), (10.0, 0.8), (10.0, 0.8)])
    # front point, corner, front point, corner, front point (duplicates drawn once)
    assert list(zip(xs, ys, strict=True)) == [(5.0, 0.6), (10.0, 0.6), (10.0, 0.8), (20.0, 0.8), (20.0, 0.9)]
    assert staircase([(1.0, 2.0)]) == ([1.0], [2.0])
