"""The one-pass histogram behind the activation ranges: exact counts whatever later batches
reach, and a percentile cut that keeps that share of |x| (the integration test compares it
with what onnxruntime's Percentile calibrator stores)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.methods.quantize.fine_histogram import MAX_FINE, FineHistogram


def _batches() -> list[np.ndarray]:
    g = np.random.default_rng(0)
    # a narrow first batch, then wider ones and a far outlier: bins grow on both sides and merge
    return [g.normal(0, 0.1, 4000).astype(np.float32), g.normal(1, 2, 4000).astype(np.float32),
            np.array([-3.0, 500.0, np.nan, np.inf], np.float32), g.laplace(0, 1, 8000).astype(np.float32)]  # fmt: skip


def test_counts_are_exact_after_growing_and_merging():
    h = FineHistogram()
    for b in _batches():
        h.add(b)
    values = np.concatenate(_batches())
    finite = values[np.isfinite(values)]
    assert h.total == finite.size and h.nonfinite == 2
    assert len(h.counts) <= MAX_FINE and h.counts.sum() == finite.size
    assert (h.low, h.high) == (float(finite.min()), float(finite.max()))
    coarse = h.coarse(128, h.low, h.high)
    assert coarse.sum() == finite.size
    # each value lands in its own bin or the next one (a fine bin is placed by its centre)
    ref = np.histogram(finite, bins=128, range=(h.low, h.high))[0]
    assert np.abs(np.cumsum(coarse) - np.cumsum(ref)).max() <= np.max(ref) * 0.02 + 50


def test_symmetric_cut_keeps_the_percentile_of_magnitudes():
    h = FineHistogram()
    for b in _batches():
        h.add(b)
    values = np.concatenate(_batches())
    mags = np.abs(values[np.isfinite(values)])
    for p in (99.0, 99.9, 99.99):
        low, high = h.symmetric_cut(p)
        assert low == max(-high, h.low)  # never past the values themselves
        # p % of |x| lie at or below the cut, to within a value and a fine bin
        assert np.mean(mags <= high) >= p / 100 - 1e-9
        assert np.mean(mags <= high - 2 * h.width) < p / 100 + 1 / mags.size
    # at 100 % nothing is cut, and the cut never passes the values' own extremes
    assert h.symmetric_cut(100.0) == pytest.approx((h.low, h.high), abs=2 * h.width)
