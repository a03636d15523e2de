"""One real static-int8 run of the tiny BERT classifier, with every event it emitted.

quantize-int8-static-tiny with a max_drop, so the exclusion search runs too (its bound on
this 40-sample validation split is met in the first round or two). The run happens once per
pytest process; each test module asks for it through its own fixture.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "assets" / "recipes" / "quantize-int8-static-tiny.yaml"
MAX_DROP = 0.02  # two accuracy points: a bound the search can check in a round or two
_DONE: dict[str, tuple[Path, object, list]] = {}


def static_recipe():
    from engine.recipe import Recipe

    recipe = Recipe.load(RECIPE)
    step = dataclasses.replace(recipe.methods[0], max_drop=MAX_DROP)
    # a shorter fine-tune and fewer samples than the asset: the quantize step is under test
    train = dataclasses.replace(recipe.train, max_steps=10, eval_every=10)
    data = dataclasses.replace(recipe.data, max_samples=200)
    # opset 17: the TorchScript exporter, seconds where dynamo takes tens per export; the
    # static job on a dynamo export runs in make test-slow (tests/engine/quantize/test_smooth.py)
    export = dataclasses.replace(recipe.export, latency_runs=5, parity_batches=1, opset=17)
    return recipe.replace(methods=(step,), train=train, data=data, export=export)


def static_quantized_run(tmp_path_factory) -> tuple[Path, object, list]:
    """(workspace folder, its JobResult, the events in the order the job emitted them)."""
    if "run" not in _DONE:
        from engine.job import Job

        root = tmp_path_factory.mktemp("static-int8")
        events: list = []
        result = Job(static_recipe(), [events.append], workspace=root).run()
        assert result.ok, result.error
        _DONE["run"] = (root, result, events)
    return _DONE["run"]
