"""GUI test setup: an offscreen Qt platform (set before Qt loads) and a fresh AppState."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from engine.recipe import Recipe  # noqa: E402

FAST_RECIPE = """
name: gui-test
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 200}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global}
train: {epochs: 1, max_steps: 6, batch_size: 4, lr: 0.001, eval_every: 3, eval_batches: 2, log_every: 1}
export: {enabled: false}
"""


def fast_recipe(**train: object) -> Recipe:
    """A real tiny-gpt job that takes seconds: few short samples, no export."""
    recipe = Recipe.from_yaml(FAST_RECIPE)
    if train:
        import dataclasses

        recipe = recipe.replace(train=dataclasses.replace(recipe.train, **train))
    return recipe


@pytest.fixture(scope="session", autouse=True)
def gc_on_the_gui_thread(qapp):
    """As the app does: cyclic GC only on the GUI thread, never inside a worker thread.

    A collection triggered in a job or export thread can free Qt objects there and crash Qt.
    """
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=0.5)
    yield collector
    collector.timer.stop()
    gc.enable()
    gc.collect()


@pytest.fixture(scope="session")
def job_workspace(tmp_path_factory):
    """One workspace for every GUI test: later jobs reuse the first one's baseline run."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture
def app_state(qapp, job_workspace):
    """An AppState on the shared test workspace, holding the fast recipe."""
    from gui.state import AppState

    return AppState(job_workspace, fast_recipe())
