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
