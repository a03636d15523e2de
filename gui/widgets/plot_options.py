"""LivePlots' view options: past runs overlaid, smoothing and log scale (a mixin, for size)."""

from __future__ import annotations

from typing import Any

from engine.metrics_log import MetricsLog


class PlotOptions:
    """Mixin for LivePlots: the History overlay, the Smoothing slider and the Log scale box.

    Uses LivePlots' plots, past, smoothing, smooth_value, _drawn, _pinned, _fit,
    _auto_range and redraw.
    """

    plots: dict[str, Any]
    past: Any
    smoothing: float

    def show_history(self, run_id: str, log: MetricsLog) -> str:
        """Overlay a past run's loss and metric curves under the live ones; returns its colour."""
        color = self.past.show(run_id, log, self.smoothing)
        for key in self.plots:
            self._fit(key)
        return color

    def hide_history(self, run_id: str) -> None:
        """Take a past run's curves off the plots."""
        self.past.hide(run_id)
        for key in self.plots:
            self._fit(key)

    def set_smoothing(self, weight: float) -> None:
        """TensorBoard-style EMA weight (0 = raw) for loss and metric curves, live and past."""
        self.smoothing = min(max(float(weight), 0.0), 0.99)
        self.smooth_value.setText(f"{self.smoothing:.2f}")
        self._drawn = {name: (-1, until) for name, (_v, until) in self._drawn.items()}
        self.past.redraw(self.smoothing)
        for key in self.plots:
            self._fit(key)
        self.redraw()

    def set_log_scale(self, on: bool) -> None:
        """Logarithmic y for the loss and validation metric plots."""
        for key in ("loss", "val"):
            self.plots[key].getPlotItem().setLogMode(y=on)
            self._pinned.discard(key)
            self._auto_range(key)
            self._fit(key)
