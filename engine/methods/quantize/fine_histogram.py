"""A histogram filled batch by batch in one pass, with no range known in advance.

Values land in fixed-width fine bins anchored at the first batch's minimum (width = its
span / FINE_BINS); bins are added on either side as later batches reach further, and pairs
are merged (width doubled) past MAX_FINE bins, which keeps every count exact. The drawn
histogram (`coarse`) and the percentile cut are read off the fine bins at the end, so a
placement is off by at most one fine bin: the precision onnxruntime's own histogram
calibrators work at (2048 bins). One pass matters: the graph run over the calibration
set is most of the cost (on MiniLM, a second pass doubled it).
"""

from __future__ import annotations

import numpy as np

FINE_BINS = 4096
MAX_FINE = 1 << 16


class FineHistogram:
    """Exact counts of the finite values added, in bins of width `width` from `origin`."""

    def __init__(self) -> None:
        self.origin = 0.0
        self.width = 0.0
        self.first = 0  # index (from origin, in widths) of counts[0]
        self.counts = np.zeros(0, np.int64)
        self.total = 0
        self.nonfinite = 0
        self.low = float("inf")  # extremes of the finite values
        self.high = float("-inf")

    def add(self, values: np.ndarray) -> tuple[float, float] | None:
        """Count `values`; their finite (min, max), or None when there were none."""
        v = np.asarray(values, dtype=np.float64).ravel()
        finite = v[np.isfinite(v)]
        self.nonfinite += int(v.size - finite.size)
        if not finite.size:
            return None
        lo, hi = float(finite.min()), float(finite.max())
        if not self.width:
            self.origin, self.width = lo, ((hi - lo) or max(abs(lo), 1.0)) / FINE_BINS
        k_lo, k_hi = self._index(lo), self._index(hi)
        while max(k_hi, self.first + len(self.counts) - 1) - min(k_lo, self.first) + 1 > MAX_FINE:
            self._coarsen()
            k_lo, k_hi = self._index(lo), self._index(hi)
        self._cover(k_lo, k_hi)
        k = np.floor((finite - self.origin) / self.width).astype(np.int64)
        np.clip(k, k_lo, k_hi, out=k)  # float rounding at the extremes
        self.counts[k_lo - self.first : k_hi - self.first + 1] += np.bincount(k - k_lo, minlength=k_hi - k_lo + 1)
        self.total += int(finite.size)
        self.low, self.high = min(self.low, lo), max(self.high, hi)
        return lo, hi

    def _index(self, x: float) -> int:
        return int(np.floor((x - self.origin) / self.width))

    def _cover(self, k_lo: int, k_hi: int) -> None:
        if not len(self.counts):
            self.first, self.counts = k_lo, np.zeros(k_hi - k_lo + 1, np.int64)
            return
        before = max(self.first - k_lo, 0)
        after = max(k_hi - (self.first + len(self.counts) - 1), 0)
        if before or after:
            self.counts = np.concatenate([np.zeros(before, np.int64), self.counts, np.zeros(after, np.int64)])
            self.first -= before

    def _coarsen(self) -> None:
        """Merge bins pairwise (2j, 2j+1) -> j: width doubles, counts stay exact."""
        if self.first % 2:
            self.counts = np.concatenate([np.zeros(1, np.int64), self.counts])
            self.first -= 1
        if len(self.counts) % 2:
            self.counts = np.concatenate([self.counts, np.zeros(1, np.int64)])
        self.counts = self.counts.reshape(-1, 2).sum(axis=1)
        self.first //= 2
        self.width *= 2

    def centers(self) -> np.ndarray:
        return self.origin + (np.arange(len(self.counts)) + self.first + 0.5) * self.width

    def coarse(self, bins: int, low: float, high: float) -> np.ndarray:
        """Counts in `bins` equal bins over [low, high] (each fine bin by its centre); they
        sum to `total` (fine bins past either end go to the end bins)."""
        if high <= low:
            high = low + 1.0
        at = np.floor((self.centers() - low) / (high - low) * bins).astype(np.int64)
        return np.bincount(np.clip(at, 0, bins - 1), weights=self.counts, minlength=bins).astype(np.int64)

    def symmetric_cut(self, percentile: float) -> tuple[float, float]:
        """(−t, t) with `percentile` % of |x| at or below t, kept within the values' own
        extremes: what onnxruntime's Percentile calibrator picks (symmetric, its default)."""
        if not self.total:
            return 0.0, 0.0
        mags = np.abs(self.centers()) + self.width / 2  # a bin's upper |x|, as ORT's edges
        order = np.argsort(mags, kind="stable")
        cdf = np.cumsum(self.counts[order]) / self.total
        # the float tolerance keeps exactly p % (15984 / 16000 falls a hair under 0.999)
        at = int(np.searchsorted(cdf, percentile / 100.0 - 1e-12))
        t = float(mags[order][min(at, len(order) - 1)])
        return max(-t, self.low), min(t, self.high)
