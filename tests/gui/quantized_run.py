"""One real dynamic-int8 run of the tiny GPT, shared by the Export-page quantization tests.

Each test module asks for it through its own fixture; the run happens once per pytest
process: the first caller runs the recipe, later ones get the same workspace.
The recipe exports with the TorchScript exporter (opset 17): its two exports take a few
seconds where the dynamo exporter's take tens; these tests read the run's files and events,
and the dynamo route into int8 is covered by tests/engine/test_quantize_pipeline.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.recipe import Recipe

RECIPE = Path(__file__).resolve().parents[2] / "assets" / "recipes" / "quantize-int8-dynamic-tiny.yaml"
_DONE: dict[str, tuple[Path, str]] = {}


def quantized_recipe() -> Recipe:
    """The shipped recipe, exported at opset 17 (the TorchScript exporter)."""
    import dataclasses

    from engine.recipe import Recipe

    recipe = Recipe.load(RECIPE)
    return recipe.replace(export=dataclasses.replace(recipe.export, opset=17))


def quantized_run(tmp_path_factory) -> tuple[Path, str]:
    """(workspace folder, run id) of a finished quantize-int8-dynamic-tiny run."""
    if "run" not in _DONE:
        from engine.job import Job

        root = tmp_path_factory.mktemp("quantized")
        result = Job(quantized_recipe(), workspace=root).run()
        assert result.ok, result.error
        _DONE["run"] = (root, str(result.run_id))
    return _DONE["run"]


def export_window(qtbot, root: Path, run_id: str, settings: Path):  # noqa: ANN001, ANN201
    """(MainWindow at 1024 x 700 on the Export page with the run selected, its AppState)."""
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.state import AppState

    state = AppState(root)
    window = MainWindow(state, QSettings(str(settings), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1024, 700)
    window.show()
    window.show_page("Export")
    state.select_variant(run_id)
    return window, state
