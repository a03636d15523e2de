"""Shared fixtures: one small real job, run once per session, for the end-to-end tests."""

from __future__ import annotations

import pytest

from engine.job import Job
from engine.recipe import Recipe

# opset 17 exports with the TorchScript exporter: a few seconds where the dynamo exporter takes
# tens in a fresh process, and many tests run this recipe in one (the CLI under kill -9, Ctrl+C).
# The dynamo route is covered by test_export.py, test_export_edge.py and test_prune_*.py.
TINY_RECIPE = """
name: tiny-prune
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
train: {epochs: 1, max_steps: 8, batch_size: 8, lr: 0.001, eval_every: 4, log_every: 2}
export: {parity_batches: 1, latency_runs: 3, latency_seq: 32, opset: 17}
"""


def tiny_recipe(**changes) -> Recipe:
    return Recipe.from_yaml(TINY_RECIPE).replace(**changes)


def shipped_small(recipe: Recipe, max_samples: int, steps: int, **train) -> Recipe:
    """A shipped recipe as it is, on less data and fewer steps, without the export."""
    import dataclasses

    from engine.recipe import ExportConfig

    return recipe.replace(
        data=dataclasses.replace(recipe.data, max_samples=max_samples, max_length=32),
        train=dataclasses.replace(recipe.train, max_steps=steps, eval_every=steps, **train),
        export=ExportConfig(enabled=False),
    )


@pytest.fixture(scope="session")
def finished_job(tmp_path_factory):
    """A real tiny job: (workspace path, JobResult, events)."""
    ws = tmp_path_factory.mktemp("ws")
    events: list = []
    result = Job(tiny_recipe(), [events.append], workspace=ws).run()
    assert result.ok, result.error
    return ws, result, events


def run_cancelled_at(recipe: Recipe, workspace, step: int):
    """Run `recipe` and cancel it after training step `step` (a real cancelled run to resume)."""
    from engine.events import Metric

    job = Job(recipe, workspace=workspace)
    job.listeners.append(lambda e: job.cancel() if isinstance(e, Metric) and e.name == "train/loss"
                         and e.step == step else None)
    result = job.run()
    assert result.status == "cancelled", result.error
    return result


@pytest.fixture(autouse=True)
def python_gc_on():
    """Engine tests run with Python's cyclic GC on, also after a GUI test in the same worker
    turned it off (tests/gui/conftest.py): a job's garbage is freed as it would be in the CLI."""
    import gc

    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()
