"""Optional logging of runs to an experiment tracker (MLflow), chosen by the user only.

A run is logged when the user names a tracking URI: the MLFLOW_TRACKING_URI environment
variable, `workbench-cli run/resume --mlflow URI`, or the GUI's "MLflow logging" setting (which
sets that variable for the app's jobs). A recipe cannot name one: a recipe is a file anyone may
send, and nothing read from a file may make a run send its data to a server the user did not
choose. This module is cheap to import; mlflow itself is imported only on the logger's own
thread once a URI is set, so neither the CLI's start nor the run waits for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_URI = "MLFLOW_TRACKING_URI"  # MLflow's own variable: what teams using MLflow already set
ENV_EXPERIMENT = "MLFLOW_EXPERIMENT_NAME"  # MLflow's own variable too
ENV_ARTIFACTS = "WORKBENCH_MLFLOW_ARTIFACTS"  # "onnx": also upload the ONNX files
DEFAULT_EXPERIMENT = "workbench"
ARTIFACT_CHOICES = ("onnx",)
INSTALL_HINT = "pip install 'model-optimization-workbench[mlflow]' (or mlflow-skinny)"


@dataclass(frozen=True)
class TrackingChoice:
    """Where to log: the tracking URI, the experiment, and whether ONNX files go too."""

    uri: str
    experiment: str = DEFAULT_EXPERIMENT
    onnx: bool = False


def parse_artifacts(text: str | None, where: str = "--mlflow-artifacts") -> bool:
    """True when `text` (comma-separated) asks for the ONNX files; ValueError names the fix."""
    asked = {part.strip().lower() for part in (text or "").split(",") if part.strip()}
    unknown = sorted(asked - set(ARTIFACT_CHOICES))
    if unknown:
        raise ValueError(f"{where}: unknown artifact kind {unknown[0]!r}; "
                         f"choose from: {', '.join(ARTIFACT_CHOICES)}")
    return "onnx" in asked


def tracking_choice(uri: str | None = None, experiment: str | None = None,
                    artifacts: str | None = None) -> TrackingChoice | None:
    """The user's choice: the arguments given, else the environment; None when no URI is set."""
    env = os.environ
    uri = (uri or env.get(ENV_URI) or "").strip()
    if not uri:
        return None
    given = artifacts is not None
    onnx = parse_artifacts(artifacts if given else env.get(ENV_ARTIFACTS),
                           "--mlflow-artifacts" if given else ENV_ARTIFACTS)
    name = (experiment or env.get(ENV_EXPERIMENT) or "").strip() or DEFAULT_EXPERIMENT
    return TrackingChoice(uri, name, onnx)


Tell = Callable[[str, str], None]  # (message, level "info" | "warning")


def stderr_warning(message: str, level: str = "warning") -> None:
    """The default way to tell: warnings on stderr, the info line left out."""
    if level == "warning":
        print(f"warning: {message}", file=sys.stderr, flush=True)


def mlflow_listener(choice: TrackingChoice, workspace: Any = None,
                    recipe_path: str | Path | None = None,
                    tell: Tell = stderr_warning) -> Callable[[Any], None]:
    """A Job listener that logs the run to MLflow (engine.tracking.mlflow_log.MlflowLogger).

    `workspace` (an engine.store.Workspace) gives the parent id of a run that ended without a
    card; `recipe_path` is recorded as a tag; `tell` gets the info line saying where the run
    is logged, and the one warning said when MLflow cannot be reached or stops answering (the
    run goes on regardless)."""
    from engine.tracking.mlflow_log import MlflowLogger

    return MlflowLogger(choice, workspace=workspace, recipe_path=recipe_path, tell=tell)


def listeners_from_env(workspace: Any = None,
                       tell: Tell = stderr_warning) -> list[Callable[[Any], None]]:
    """[the MLflow listener] when the environment names a tracking URI, else []. For the GUI's
    in-process runs (its setting sets the variable); a bad WORKBENCH_MLFLOW_ARTIFACTS is said
    with `tell` and the files are left out."""
    try:
        choice = tracking_choice()
    except ValueError as exc:
        tell(f"MLflow: {exc}; ONNX files are not uploaded", "warning")
        choice = tracking_choice(artifacts="")
    return [] if choice is None else [mlflow_listener(choice, workspace, tell=tell)]
