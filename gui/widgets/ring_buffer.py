"""Preallocated (x, y) ring buffer for live curves.

Appending is O(1) with no allocation, so a metric event costs almost nothing; the
plot timer asks for the data only when `version` moved since its last draw.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Keeps the last `capacity` (x, y) points; `data()` returns them oldest first."""

    def __init__(self, capacity: int = 10_000):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._xy = np.zeros((capacity, 2), dtype=np.float64)
        self._next = 0  # slot the next point goes to
        self._size = 0
        self.version = 0  # bumped on every change; lets readers skip unchanged curves
        # appends may come from a worker thread while the GUI thread reads
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def append(self, x: float, y: float) -> None:
        """Add one point, overwriting the oldest when full."""
        with self._lock:
            self._xy[self._next] = (x, y)
            self._next = (self._next + 1) % self.capacity
            self._size = min(self._size + 1, self.capacity)
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._next = 0
            self._size = 0
            self.version += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) copies in insertion order, safe to hand to setData."""
        with self._lock:
            if self._size < self.capacity:
                xy = self._xy[: self._size].copy()
            else:  # full: the oldest point sits at _next
                xy = np.roll(self._xy, -self._next, axis=0)
        return xy[:, 0], xy[:, 1]

    def last(self) -> tuple[float, float] | None:
        """The newest point, or None when empty."""
        with self._lock:
            if not self._size:
                return None
            x, y = self._xy[(self._next - 1) % self.capacity]
            return float(x), float(y)
