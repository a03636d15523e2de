"""Shared pieces of the training-setup tests: a tiny-gpt, Shakespeare blocks, a run that records."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from engine.context import JobContext, JobControl
from engine.data import load_data
from engine.events import Metric
from engine.models.builtin import build_tiny_module
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec, TrainConfig
from engine.train.loop import fine_tune

CPU = torch.device("cpu")
SMALL = {"d_model": 32, "n_layer": 2, "n_head": 2}


@functools.cache
def shakespeare(max_length: int = 16, max_samples: int = 48):
    """Shakespeare blocks (all full length: no padding, so per-token means are per-sample means)."""
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    return load_data(DataSpec(source="builtin", path="shakespeare", max_length=max_length,
                              max_samples=max_samples), loaded)  # fmt: skip


def tiny_gpt() -> torch.nn.Module:
    """A freshly initialised 2-layer, width-32 tiny-gpt (the same weights every call)."""
    return build_tiny_module("tiny-gpt", SMALL)


def train(module, cfg: TrainConfig, data=None, control: JobControl | None = None,
          device: torch.device = CPU, **kw):  # fmt: skip
    """fine_tune on Shakespeare (the module moved to `device` first); (stats, [(metric, step,
    value)])."""
    data = data or shakespeare()
    events: list = []
    module.to(device)
    stats = fine_tune(module, "causal-lm", data.train, data.val, cfg,
                      JobContext(events.append, control or JobControl()), device, **kw)  # fmt: skip
    return stats, [(e.name, e.step, e.value) for e in events if isinstance(e, Metric)]


def values(metrics, name: str) -> list[float]:
    return [v for n, _s, v in metrics if n == name]


def run_cli_events(recipe_text: str, tmp: Path) -> tuple[Any, list, Any]:
    """`workbench-cli run RECIPE --events-json` in a child process (the CLI starts torchrun for
    a multi-process recipe): (its Workspace, the JSON events read back, the process)."""
    import os
    import subprocess
    import sys

    from engine.events import event_from_json
    from engine.store import Workspace

    recipe = Path(tmp) / "recipe.yaml"
    recipe.write_text(recipe_text)
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # 1 thread per process on shared cores
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", str(recipe), "-w", str(Path(tmp) / "ws"),
         "--events-json"], cwd=root, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [event_from_json(line) for line in proc.stdout.splitlines() if line.strip()]
    return Workspace(Path(tmp) / "ws"), events, proc
