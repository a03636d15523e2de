"""One real tiny parent and its structured-pruned, int8-quantized child, both exported.

Shared by the compare CLI tests, the HTML report tests and the Compare page's Report button
test: the two jobs (about 15 s on 2 cores) run once per pytest process, whichever module asks
first. Callers must not change the workspace's variants (they are shared).
"""

from __future__ import annotations

from pathlib import Path

_DONE: dict[str, tuple[Path, str, str]] = {}


def exported_pair(tmp_path_factory) -> tuple[Path, str, str]:  # noqa: ANN001 (pytest's factory)
    """(workspace folder, parent id, child id): the child also has an onnx-int8-dynamic file."""
    if "pair" not in _DONE:
        from engine.job import Job
        from engine.methods.prune.structured import StructuredPruneConfig
        from engine.recipe import ModelSpec, TrainConfig
        from engine.registry import method_config_class
        from tests.engine.conftest import tiny_recipe

        root = tmp_path_factory.mktemp("pair")
        train = TrainConfig(max_steps=2, batch_size=8, eval_every=2)
        base = Job(tiny_recipe(name="base", methods=(), train=train), workspace=root).run()
        assert base.ok, base.error
        int8 = method_config_class("int8_dynamic")()
        child = Job(tiny_recipe(name="cut", model=ModelSpec(source="variant", path=base.run_id),
                                methods=(StructuredPruneConfig(target="ffn", amount=0.5), int8),
                                train=train), workspace=root).run()
        assert child.ok, child.error
        _DONE["pair"] = (root, str(base.run_id), str(child.run_id))
    return _DONE["pair"]
