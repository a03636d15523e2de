"""What the distillation benches share: the --settings/--kd parser, row labels and running
one recipe through the workbench's Job."""

from __future__ import annotations

import time
from pathlib import Path

from engine.job import Job
from engine.recipe import Recipe


def parse_setting(text: str, flag: str = "--settings") -> tuple[float, float, float]:
    """'alpha,T[,hidden_weight]' -> (alpha, T, hidden_weight); ValueError names the form."""
    parts = [float(p) for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError(f"{flag} wants alpha,T or alpha,T,hidden_weight; got {text!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else 0.0


def kd_label(alpha: float, temperature: float, hidden: float) -> str:
    """'KD a=0.5 T=2' (+ ' h=1' with a hidden-state loss)."""
    return f"KD a={alpha:g} T={temperature:g}" + (f" h={hidden:g}" if hidden else "")


def run_job(name: str, rec: Recipe, ws: Path, metric: str = "accuracy") -> dict:
    """Run one recipe through the Job in workspace `ws`; its card with the run id. A failed
    run ends the bench with its error."""
    t0 = time.perf_counter()
    result = Job(rec, workspace=ws).run()
    if not result.ok:
        raise SystemExit(f"{name} failed: {result.error}")
    print(f"   {name}: {metric} {result.card['metrics'][metric]:.4f} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    return {**result.card, "run_id": result.run_id}
