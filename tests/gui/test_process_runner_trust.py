"""Trust reaches a multi-process run only from the user: the recipe the GUI hands the CLI
carries `model.trust` exactly when the user ticked it in this session."""

from __future__ import annotations

import dataclasses
import sys

from engine.recipe import Recipe
from gui.process_runner import ProcessJobRunner
from tests.gui.conftest import fast_recipe

# the child says what `model.trust` the recipe file it was given holds (plain YAML and JSON
# lines, no torch import: seconds, not tens of seconds, on a loaded CI box)
ECHO = (
    "import json, sys, yaml\n"
    "trust = (yaml.safe_load(open(sys.argv[1])).get('model') or {}).get('trust', False)\n"
    "print(json.dumps({'event': 'Log', 'message': f'trust={trust}', 'level': 'info'}))\n"
    "print(json.dumps({'event': 'Finished', 'run_id': 'r1', 'summary': {}}), flush=True)\n"
)


def _trust_seen_by_the_child(qtbot, app_state, recipe: Recipe) -> list[str]:
    runner = ProcessJobRunner(command=lambda path, ws: [sys.executable, "-c", ECHO, str(path),
                                                        "run", str(path)])  # fmt: skip
    lines: list[str] = []
    runner.event.connect(lambda e: lines.append(getattr(e, "message", "")))
    with qtbot.waitSignal(runner.finished, timeout=30000):
        assert runner.start(recipe, app_state.workspace)
    return [s for s in lines if s.startswith("trust=")]


def test_the_users_trust_goes_into_the_recipe_the_cli_runs(qtbot, app_state):
    recipe = fast_recipe()
    trusted = recipe.replace(model=dataclasses.replace(recipe.model, trust=True))
    assert _trust_seen_by_the_child(qtbot, app_state, trusted) == ["trust=True"]
    assert _trust_seen_by_the_child(qtbot, app_state, recipe) == ["trust=False"]


def test_a_resumed_process_run_gets_trust_only_as_the_flag(qtbot, app_state):
    """`resume` reads the stored recipe (which never carries trust): the flag is the user's."""
    recipe, started = fast_recipe(), []
    for trust in (True, False):
        spec = dataclasses.replace(recipe.model, trust=trust)
        runner = ProcessJobRunner(command=lambda path, ws: [sys.executable, "-c", "pass", "run",
                                                            str(path)])  # fmt: skip
        with qtbot.waitSignal(runner.finished, timeout=30000):
            assert runner.start(recipe.replace(model=spec), app_state.workspace, "run-7")
            started.append(runner.process.arguments())
    assert started[0][-3:] == ["resume", "run-7", "--trust"]
    assert started[1][-2:] == ["resume", "run-7"]
