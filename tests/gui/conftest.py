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
def no_cyclic_gc_in_gui_tests(qapp):
    """From the first GUI test on, Python's automatic cyclic GC is off, as in the app.

    On, it could run inside a job or export thread and free Qt objects there, or tear a
    dropped widget tree down in the wrong order; both crash Qt (gui/qt_gc.py says how).
    qt_deletes_widgets_not_gc collects after each test instead.
    """
    import gc

    from gui.qt_gc import free_now

    gc.disable()
    gc.collect()
    gc.freeze()  # see qt_deletes_widgets_not_gc
    yield
    gc.unfreeze()
    free_now()
    gc.enable()


@pytest.fixture(autouse=True)
def qt_deletes_widgets_not_gc(no_cyclic_gc_in_gui_tests):
    """After each GUI test: Qt deletes the widget trees the test dropped, then GC frees the rest.

    What is still alive afterwards is then frozen (gc.freeze): the next test's collection walks
    only what that test made. Unfrozen, the ~130k-360k objects of modules, models and caches
    cost each test ~0.5 s of collecting; frozen, an object one test leaves and a later one drops
    is freed at the session's end instead. (No timer collects in the middle of a test: that is
    the app's GuiCollector, tested in test_qt_gc.py.)
    """
    import gc

    from gui.qt_gc import free_now

    yield
    free_now()
    gc.freeze()


@pytest.fixture(scope="session")
def job_workspace(tmp_path_factory):
    """One workspace for every GUI test: later jobs reuse the first one's baseline run."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture
def app_state(qapp, job_workspace):
    """An AppState on the shared test workspace, holding the fast recipe."""
    from gui.state import AppState

    return AppState(job_workspace, fast_recipe())
