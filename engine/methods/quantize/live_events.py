"""What an int8 step shows while it runs: calibration progress, per-node errors as soon as
they are measured, and each round of the exclusion search.

Each goes out as an engine.events event through `actx.emit` (the Run page's quantization
panel, `workbench-cli run --events-json`) and moves the progress line through
`actx.progress` with words ("calibrating 24/64 samples"), so the plain CLI shows it too.
The fractions sit inside the ranges ort_int8 gives its phases (0.3 quantizing, 0.6
per-node error, then the search).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.events import CalibrationProgress, ExclusionStep, NodeErrors
from engine.methods.base import ArtifactContext

CALIBRATE = (0.3, 0.6)  # the first calibration: between "quantizing" and "per-node error"
NODE_ERROR = (0.6, 0.7)
SEARCH = (0.7, 0.95)  # the exclusion search's rounds, before the final file is written


def _at(span: tuple[float, float], done: int, total: int) -> float:
    return span[0] + (span[1] - span[0]) * (done / total if total else 1.0)


class CalibrationListener:
    """`on_read(done, total)` for calibration.CountingReader: done == 0 starts a new pass.

    Pass 1 makes the artifact and moves the progress bar; later passes (the exclusion
    search's candidates, the final file) calibrate on the same set again and only emit.
    """

    def __init__(self, actx: ArtifactContext):
        self.actx = actx
        self.attempt = 0

    def __call__(self, done: int, total: int) -> None:
        if done == 0 or self.attempt == 0:
            self.attempt += 1
        self.actx.emit(CalibrationProgress(self.actx.step, done, total, "calibration", self.attempt))
        if self.attempt == 1:
            self.actx.progress(_at(CALIBRATE, done, total), f"calibrating {done}/{total} samples")


def node_error_progress(actx: ArtifactContext, feeds: list[dict[str, Any]]) -> Callable[[int, int], None]:
    """node_errors' progress(batches done, batches) as samples done / total samples."""
    sizes = [int(next(iter(f.values())).shape[0]) if f else 0 for f in feeds]
    total = sum(sizes)

    def progress(batches: int, _batches_total: int) -> None:
        done = sum(sizes[:batches])
        actx.emit(CalibrationProgress(actx.step, done, total, "node-error"))
        actx.progress(_at(NODE_ERROR, done, total), f"per-node error {done}/{total} samples")

    progress(0, len(feeds))
    return progress


def node_errors_measured(actx: ArtifactContext, errors: list[dict[str, Any]]) -> None:
    """The chart's rows as soon as they exist, and one line for the log."""
    actx.emit(NodeErrors(actx.step, [dict(e) for e in errors]))
    if errors:
        worst = errors[0]
        sqnr = worst.get("sqnr_db")
        db = f" (SQNR {sqnr:.1f} dB)" if isinstance(sqnr, (int, float)) else ""
        actx.log(f"per-node error: {len(errors)} quantized node(s) measured; worst "
                 f"{worst.get('layer') or worst.get('node')}{db}")  # fmt: skip


class SearchWatcher:
    """Wraps the exclusion search's make/evaluate to emit each round as it is measured."""

    def __init__(self, actx: ArtifactContext, rounds: int, goal: str, met: Callable[[dict], bool]):
        self.actx, self.rounds, self.goal, self.met = actx, max(rounds, 1), goal, met
        self.round = 0
        self.excluded: list[str] = []

    def made(self, excluded: list[str]) -> None:
        self.excluded = list(excluded)
        self.actx.progress(_at(SEARCH, self.round, self.rounds),
                           f"exclusion search: round {self.round + 1}, "
                           f"{len(excluded)} node(s) in fp32")  # fmt: skip

    def measured(self, path: Any, metrics: dict[str, float]) -> None:
        from engine.methods.quantize.exclusion import file_bytes

        self.round += 1
        self.actx.emit(ExclusionStep(
            self.actx.step, self.round, list(self.excluded), dict(metrics), file_bytes(path),
            bool(self.met(metrics)), self.goal,
        ))  # fmt: skip
