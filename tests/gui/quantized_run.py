"""One real dynamic-int8 run of the tiny GPT, shared by the Export-page quantization tests.

Each test module asks for it through its own fixture; the run happens once per pytest
process (about 20 s): the first caller runs the recipe, later ones get the same workspace.
"""

from __future__ import annotations

from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "assets" / "recipes" / "quantize-int8-dynamic-tiny.yaml"
_DONE: dict[str, tuple[Path, str]] = {}


def quantized_run(tmp_path_factory) -> tuple[Path, str]:
    """(workspace folder, run id) of a finished quantize-int8-dynamic-tiny run."""
    if "run" not in _DONE:
        from engine.job import Job
        from engine.recipe import Recipe

        root = tmp_path_factory.mktemp("quantized")
        result = Job(Recipe.load(RECIPE), workspace=root).run()
        assert result.ok, result.error
        _DONE["run"] = (root, str(result.run_id))
    return _DONE["run"]
