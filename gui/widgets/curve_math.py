"""Arithmetic of live curves: held steps, TensorBoard's smoothing, ranges for lone points."""

from __future__ import annotations

import numpy as np


def step_xy(x: np.ndarray, y: np.ndarray, until: float) -> tuple[np.ndarray, np.ndarray]:
    """Polyline of a value held from each x to the next, carried on to `until`."""
    if not len(x):
        return x, y
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    last = np.r_[x[1:] != x[:-1], True]  # a re-announced step keeps its newest value
    x, y = x[last], y[last]
    xs, ys = np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]
    if until > x[-1]:
        xs, ys = np.r_[xs, until], np.r_[ys, y[-1]]
    return xs, ys


def value_at(x: np.ndarray, y: np.ndarray, step: float) -> float | None:
    """The held value of a step curve at `step` (None before its first point)."""
    before = np.flatnonzero(x <= step)
    return float(y[before[np.argmax(x[before])]]) if len(before) else None


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: exponential moving average, debiased so it starts at y[0]."""
    if weight <= 0 or len(y) < 2:
        return np.asarray(y, dtype=float)
    out = np.empty(len(y))
    acc, norm = 0.0, 0.0
    for i, v in enumerate(np.asarray(y, dtype=float)):
        acc = acc * weight + (1 - weight) * v
        norm = norm * weight + (1 - weight)  # = 1 - weight**(i+1): the debiasing factor
        out[i] = acc / norm
    return out


def padded_span(values: np.ndarray, log: bool = False) -> tuple[float, float]:
    """A range around values whose spread is zero (one point): ±10 % of the value, or ±1."""
    v = float(values[0])
    if log:  # the view works in log10 units there
        v = float(np.log10(v)) if v > 0 else 0.0
        return v - 0.5, v + 0.5
    pad = abs(v) * 0.1 or 1.0
    return v - pad, v + pad
