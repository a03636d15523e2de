"""GUI event-loop stalls while the real JobRunner runs a built-in recipe.

A 10 ms QTimer on the GUI thread records the gap between its ticks; a gap well
above 10 ms is time the event loop could not run (e.g. a worker thread holding the
GIL). Prints max / p99 gap per job stage (StageStarted events split the run).

  OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_stall.py \
      [--recipe assets/recipes/tiny-gpt-random.yaml] [--steps 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.events import StageStarted  # noqa: E402
from engine.recipe import Recipe  # noqa: E402
from engine.store import Workspace  # noqa: E402
from gui.runner import JobRunner, preload_torch_internals  # noqa: E402
from gui.threads import BackgroundCall  # noqa: E402


def parse_args() -> argparse.Namespace:
    """The command line: recipe, steps, and the two 'old way' switches."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="assets/recipes/tiny-gpt-random.yaml")
    ap.add_argument("--steps", type=int, default=10, help="train.max_steps (small: the export is the point)")
    ap.add_argument("--in-thread", action="store_true", help="export in the job thread (the old way)")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="skip the Run page's early import of torch's lazy parts (the old way)")
    return ap.parse_args()


class StallRecorder:
    """Gaps between timer ticks per stage, each with the newest job event before it."""

    def __init__(self, stage: str):
        self.gaps: dict[str, list[float]] = {}
        self.stage = stage
        self.last = time.perf_counter()
        self.seen = "(none)"  # the newest event before a gap: where the time went
        self.worst: list[tuple[float, str, str]] = []

    def tick(self) -> None:
        """Record the gap since the previous tick (connected to the 10 ms timer)."""
        now = time.perf_counter()
        gap = (now - self.last) * 1000
        self.gaps.setdefault(self.stage, []).append(gap)
        self.worst.append((gap, self.stage, self.seen))
        self.last = now

    def on_event(self, ev: object) -> None:
        """Follow the job's stages and remember its newest event."""
        if isinstance(ev, StageStarted) and ev.stage != "run":
            self.stage = ev.stage
        self.seen = repr(ev)[:100]


def print_gaps(rec: StallRecorder) -> None:
    """Max / p99 gap per stage and for the whole job, then the five worst gaps."""
    print(f"{'stage':<10} {'ticks':>6} {'max ms':>8} {'p99 ms':>8}")
    for name, g in rec.gaps.items():
        a = np.asarray(g)
        print(f"{name:<10} {len(a):>6} {a.max():>8.1f} {np.percentile(a, 99):>8.1f}")
    every = np.concatenate([np.asarray(g) for n, g in rec.gaps.items() if n != "warm-up"])
    print(f"{'job':<10} {len(every):>6} {every.max():>8.1f} {np.percentile(every, 99):>8.1f}")
    print("worst gaps (ms, stage, the newest event before it):")
    for gap, name, ev in sorted(w for w in rec.worst if w[1] != "warm-up")[::-1][:5]:
        print(f"  {gap:6.1f}  {name:<9} {ev}")


def main() -> int:
    """Run the recipe once in a fresh workspace and print the gaps per stage."""
    args = parse_args()
    app = QApplication.instance() or QApplication([])
    recipe = Recipe.from_yaml(Path(args.recipe).read_text(encoding="utf-8"))
    recipe = recipe.replace(train=dataclasses.replace(recipe.train, max_steps=args.steps, eval_every=args.steps))
    ws = Workspace(tempfile.mkdtemp(prefix="gui-stall-"))
    runner = JobRunner()
    if args.in_thread:
        runner.isolate_export = False
    rec = StallRecorder("warm-up" if not args.no_warm_up else "start")
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(rec.tick)
    runner.event.connect(rec.on_event)
    result: list = []
    runner.finished.connect(lambda r: (result.append(r), app.quit()))
    timer.start()
    t0 = [time.perf_counter()]

    def start_job(_result: object = None) -> None:
        rec.stage = "start"
        t0[0] = time.perf_counter()
        runner.start(recipe, ws)

    if args.no_warm_up:
        start_job()
    else:  # as the Run page does a second after the window is up
        warm = BackgroundCall(preload_torch_internals, start_job)  # noqa: F841 (kept alive)
    app.exec()
    timer.stop()
    runner.wait()
    print(f"{recipe.name}: {result[0].status} in {time.perf_counter() - t0[0]:.1f} s "
          f"(export {'in the job thread' if args.in_thread else 'in a child process'}, "
          f"{'no warm-up' if args.no_warm_up else 'torch warmed up before the run'})")
    print_gaps(rec)
    return 0 if result and result[0].status == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
