"""`run` / `resume` options for MLflow logging, and the listener they add (engine.tracking).

Only the process that speaks for the run logs it: a plain run; under torchrun rank 0 alone,
and only when nobody relays its events (with --events-json the relay or the GUI reading them
logs, in the launching process: `run`'s own relay reads the same URI from its command line
or environment). mlflow itself is imported on the logger's thread, never at CLI start.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.events import Event, Log
from engine.tracking import ARTIFACT_CHOICES, INSTALL_HINT, mlflow_listener, tracking_choice
from engine.train.strategy import under_torchrun


def add_tracking_options(parser: argparse.ArgumentParser) -> None:
    """--mlflow URI, --mlflow-experiment NAME, --mlflow-artifacts onnx."""
    parser.add_argument(
        "--mlflow", metavar="URI",
        help="also log the run to MLflow at URI (http://host:5000, sqlite:///mlflow.db, ...; "
        "default: $MLFLOW_TRACKING_URI; needs pip install model-optimization-workbench[mlflow])")
    parser.add_argument("--mlflow-experiment", metavar="NAME",
                        help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME or workbench)")
    parser.add_argument("--mlflow-artifacts", metavar="KINDS",
                        help=f"also upload these files ({', '.join(ARTIFACT_CHOICES)}: the ONNX "
                        "files, which can be large); the recipe, card and metrics always go")


def logs_here(args: argparse.Namespace) -> bool:
    """Whether this process logs the run: not a torchrun rank other than 0, nor a relayed one."""
    if not under_torchrun():
        return True
    return os.environ.get("RANK", "0") == "0" and not getattr(args, "events_json", False)


def tracking_listeners(args: argparse.Namespace, listeners: list[Callable[[Event], None]],
                       workspace: Any, recipe_path: str | Path | None = None,
                       ) -> list[Callable[[Event], None]]:  # fmt: skip
    """[the MLflow listener] when the user set a tracking URI (option or environment) and this
    process logs the run, else []. Its lines go where the run's other lines go."""
    choice = tracking_choice(getattr(args, "mlflow", None), getattr(args, "mlflow_experiment", None),
                             getattr(args, "mlflow_artifacts", None))
    if choice is None or not logs_here(args):
        return []
    if getattr(args, "mlflow", None) and importlib.util.find_spec("mlflow") is None:
        # asked for on this command line: refused before the run (the variable, which a shell
        # may set for every project, costs a warning instead)
        raise ValueError(f"--mlflow: MLflow is not installed here: {INSTALL_HINT}")

    others = list(listeners)  # as they are now: the caller adds this one to its list

    def tell(message: str, level: str) -> None:
        if not others and level == "warning":  # --quiet: the warning is still said, once
            print(f"warning: {message}", file=sys.stderr, flush=True)
        for listener in others:
            listener(Log(message, level))

    return [mlflow_listener(choice, workspace, recipe_path=recipe_path, tell=tell)]
