"""`workbench`: the desktop app. Opens with the built-in demo recipe and its model loaded.

    workbench [--workspace DIR] [--recipe FILE] [--page NAME]
              [--screenshot DIR] [--quit-after SECONDS]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine.config_fields import ConfigError
from engine.recipe import Recipe
from engine.store import default_workspace
from gui.main_window import PAGES, MainWindow, app_settings
from gui.qt_gc import GuiCollector
from gui.state import AppState
from gui.threads import BackgroundCall
from gui.widgets.live_plots import use_light_theme
from gui.widgets.table_copy import install_table_copy
from gui.widgets.tracking_settings import install_tracking_setting
from gui.workspace_prompt import open_workspace_interactively

REPO_ROOT = Path(__file__).resolve().parent.parent  # gui/ sits in the repository root
DEMO_RECIPE = REPO_ROOT / "assets" / "recipes" / "demo.yaml"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Model Optimization Workbench")
    p.add_argument("--workspace", type=Path, help="workspace folder (default: the last one used)")
    p.add_argument("--recipe", type=Path, default=DEMO_RECIPE, help="recipe to open (default: the demo)")
    p.add_argument("--page", choices=PAGES, help="page to show first")
    p.add_argument("--screenshot", type=Path, metavar="DIR", help="save every page to DIR/<page>.png and exit")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="close the window after SECONDS")
    return p


def _load_recipe(path: Path) -> tuple[Recipe, str]:
    """The recipe at `path`, or a blank one plus the reason it could not be read."""
    try:
        return Recipe.load(path), ""
    except (ConfigError, OSError) as exc:
        return Recipe(), f"could not open recipe {path}: {exc}"


def _wait_for_model(app: QApplication, window: MainWindow, timeout_s: float = 60.0) -> None:
    """Let the Model page finish its background load and the Optimize page its estimate."""
    model_busy = getattr(window.model_page, "is_busy", lambda: False)
    live = getattr(getattr(window, "optimize_page", None), "live", None)  # the live estimate
    deadline = time.monotonic() + timeout_s
    quiet = 0  # the loaded model starts the estimate a moment later: wait for a quiet stretch
    while quiet < 10 and time.monotonic() < deadline:
        app.processEvents()
        busy = model_busy() or (live is not None and live.busy())
        quiet = 0 if busy else quiet + 1
        time.sleep(0.02)
    for _ in range(5):  # let queued results and layouts settle
        app.processEvents()


def save_screenshots(app: QApplication, window: MainWindow, folder: Path) -> list[Path]:
    """Render every page of the shown window to folder/<page>.png."""
    folder.mkdir(parents=True, exist_ok=True)
    _wait_for_model(app, window)
    out = []
    for name in PAGES:
        window.show_page(name)
        for _ in range(5):
            app.processEvents()
        path = folder / f"{name.lower()}.png"
        window.grab().save(str(path))
        out.append(path)
    return out


def import_engine_and_read(path: Path) -> tuple[Recipe, str]:
    """Import torch and the engine modules the pages use, then read the recipe (its method
    steps import torch too). Seconds of work: it runs on a worker thread behind the shown
    window, so building the pages afterwards is quick."""
    import torch  # noqa: F401

    import engine.job  # noqa: F401
    import engine.models.loaders  # noqa: F401
    import engine.registry  # noqa: F401
    import engine.sensitivity  # noqa: F401

    return _load_recipe(path)


def finish_window(window: MainWindow, recipe: Recipe, page: str | None, problem: str) -> None:
    """Make `recipe` current, build the pages, show the asked-for page and any problem, and
    load the recipe's model (off the GUI thread, as the Model page's own picker does)."""
    window.state.set_recipe(recipe)
    window.build_pages()
    install_tracking_setting(window)  # Settings ▸ MLflow logging… (after File and Go)
    if page:
        window.show_page(page)
    if problem:
        window.statusBar().showMessage(problem, 15000)
        print(problem, file=sys.stderr)
    window.model_page.sync_to_recipe()


def main(argv: list[str] | None = None) -> int:
    """Start the GUI; returns the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from engine.quiet import install

    install()  # harmless library warnings are not printed (engine/quiet.py says which, and why)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Model Optimization Workbench")
    app.setOrganizationName("workbench")
    app.setStyle("Fusion")
    install_table_copy(app)  # every table: Ctrl+C / right-click copy as TSV
    use_light_theme()
    # Python's cyclic GC may otherwise run in a worker thread and free Qt objects there, or
    # tear a dropped widget tree down in the wrong order; both crash Qt (gui/qt_gc.py)
    collector = GuiCollector(interval=1.0)
    try:
        return _run(args, app)
    finally:
        collector.stop()  # main() may return to a caller that goes on (a test)


def _run(args: argparse.Namespace, app: QApplication) -> int:
    """Open the workspace and the window, then run the event loop (or save screenshots)."""
    settings = app_settings()
    workspace = args.workspace or settings.value("workspace") or default_workspace()
    ws, ws_problem = open_workspace_interactively(workspace)
    if ws is None:
        print(f"workbench: {ws_problem}", file=sys.stderr)
        return 2
    state = AppState(ws)  # a blank recipe until the file is read behind the shown window
    window = MainWindow(state, settings, defer_pages=not args.screenshot)
    window.show()
    if args.screenshot:
        recipe, problem = _load_recipe(args.recipe)
        finish_window(window, recipe, args.page, problem)
    else:
        def done(result: tuple[Recipe, str]) -> None:
            finish_window(window, result[0], args.page, result[1])

        def failed(message: str) -> None:  # the engine itself would not import: say so, in the window
            finish_window(window, Recipe(), args.page, f"could not start the engine: {message}")

        warm = BackgroundCall(lambda: import_engine_and_read(args.recipe), done, failed)  # noqa: F841

    if args.screenshot:
        for path in save_screenshots(app, window, args.screenshot):
            print(path)
        window.close()
        return 0
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    code = app.exec()
    window.shutdown()  # app.quit() from elsewhere skips closeEvent; never leave a thread behind
    return code


if __name__ == "__main__":
    sys.exit(main())
