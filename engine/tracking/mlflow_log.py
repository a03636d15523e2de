"""MlflowLogger: a Job listener that mirrors one run into MLflow, off the job's thread.

The listener itself only puts events on a queue, so training never waits for MLflow. A
worker thread imports mlflow (seconds), checks that the server answers, finds or creates the
experiment and, once the job registers its run (the `metrics` Artifact event names the run
folder), creates the MLflow run: name = the variant's name, tags workbench.run_id /
parent_id / recipe. Metric events are buffered and sent as one batch every `flush_events`
events or `flush_seconds`; params are the recipe file's fields. At the end: the card's
numbers, the recipe / card / metrics files (ONNX files when asked), and the status FINISHED,
FAILED or KILLED (cancelled). A resumed run continues the MLflow run with its run id.

MLflow failing in any way (not reachable, refusing the store, going away mid-run) costs one
warning line; the logger then stops and the run goes on, its workspace record complete. The
end waits at most `end_timeout_s` for the last upload.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from engine.events import Artifact, Cancelled, Event, Failed, Finished, Metric
from engine.tracking import INSTALL_HINT, Tell, TrackingChoice, stderr_warning
from engine.tracking.mlflow_record import (
    RECIPE_FILE,
    card_metrics,
    read_card,
    recipe_params,
    run_files,
)

END_STATUS = {Finished: "FINISHED", Failed: "FAILED", Cancelled: "KILLED"}
TAG_RUN, TAG_PARENT, TAG_RECIPE = "workbench.run_id", "workbench.parent_id", "workbench.recipe"
TAG_FOLDER, TAG_ERROR = "workbench.folder", "workbench.error"
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")  # MLflow's SQLAlchemy stores


class MlflowLogger:
    """Call it with every event of one Job (a listener); it logs that run to MLflow."""

    def __init__(self, choice: TrackingChoice, workspace: Any = None,
                 recipe_path: str | Path | None = None,
                 tell: Tell = stderr_warning, flush_events: int = 200,
                 flush_seconds: float = 5.0, end_timeout_s: float = 60.0,
                 probe_timeout_s: float = 5.0):  # fmt: skip
        self.choice = choice
        self.workspace = workspace
        self.recipe_path = str(recipe_path) if recipe_path else None
        self.flush_events, self.flush_seconds = flush_events, flush_seconds
        self.end_timeout_s, self.probe_timeout_s = end_timeout_s, probe_timeout_s
        self._tell = tell
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._stopped = threading.Event()  # gave up: later events are dropped
        self._done = threading.Event()  # the worker has ended
        self.client: Any = None
        self.mlflow_run_id: str | None = None  # the MLflow run's id once created
        self._folder: Path | None = None
        self._params_logged = False
        self._pending: list[Any] = []  # mlflow Metric entities not sent yet
        self._last_step = 0
        self._thread = threading.Thread(target=self._work, name="workbench-mlflow", daemon=True)
        self._thread.start()

    # -- the listener (the job's thread): never blocks but at the very end -------------
    def __call__(self, event: Event) -> None:
        if self._stopped.is_set():
            return
        if isinstance(event, (Metric, Artifact, *END_STATUS)):
            self._queue.put(event)
        if isinstance(event, tuple(END_STATUS)) and not self._done.wait(self.end_timeout_s):
            self._stop(f"MLflow: the upload to {self.choice.uri} did not finish within "
                       f"{self.end_timeout_s:.0f} s; the MLflow run may be incomplete "
                       "(the workspace record is complete)")

    def _stop(self, message: str) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._tell(message, "warning")

    # -- the worker thread ---------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._connect()
        except Exception as exc:  # one line, then the run goes on without MLflow
            self._stop(f"MLflow: cannot log to {self.choice.uri}: {_hint(exc)}; the run goes "
                       "on without it")
            self._done.set()
            return
        last_flush = time.monotonic()
        while not self._stopped.is_set():
            wait = max(0.05, self.flush_seconds - (time.monotonic() - last_flush))
            try:
                event: Event | None = self._queue.get(timeout=wait)
            except queue.Empty:
                event = None
            try:
                if isinstance(event, tuple(END_STATUS)):
                    self._finish(event)
                    break
                self._take(event)
                if event is None or len(self._pending) >= self.flush_events:
                    self._flush()
                    last_flush = time.monotonic()
            except Exception as exc:
                self._stop(f"MLflow: logging to {self.choice.uri} stopped: {_short(exc)}; the "
                           "run goes on without it")
        self._done.set()

    def _connect(self) -> None:
        """Import mlflow, check the server answers, find or create the experiment."""
        uri = self.choice.uri
        if importlib.util.find_spec("mlflow") is None:  # before the probe, which uses its requests
            raise ModuleNotFoundError("no mlflow", name="mlflow")
        if uri.startswith(("http://", "https://")):
            _probe(uri, self.probe_timeout_s)
        # the user chose to send this run to their tracker, not usage data to MLflow's makers
        # (MLflow 3 sends it by default); MLFLOW_DISABLE_TELEMETRY=false turns it back on
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        scheme = uri.split(":", 1)[0].split("+", 1)[0] if "://" in uri else ""
        if scheme in DATABASES and importlib.util.find_spec("sqlalchemy") is None:
            raise RuntimeError(f"a {scheme} store needs SQLAlchemy and Alembic: pip install "
                               "sqlalchemy alembic (or the full mlflow package)")
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(self.choice.experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(
            self.choice.experiment, artifact_location=_sqlite_artifacts(uri))

    def _take(self, event: Event | None) -> None:
        if isinstance(event, Artifact) and event.kind == "metrics":
            self._start_run(Path(event.path).parent)
        elif isinstance(event, Artifact) and event.kind == "recipe" and self.mlflow_run_id:
            self._log_params(Path(event.path))
        elif isinstance(event, Metric) and self.mlflow_run_id:  # before it: the baseline's
            from mlflow.entities import Metric as MlflowMetric

            self._last_step = max(self._last_step, event.step)
            if _finite(event.value):
                self._pending.append(MlflowMetric(event.name, float(event.value),
                                                  int(time.time() * 1000), int(event.step)))

    def _start_run(self, folder: Path) -> None:
        """The MLflow run for the workspace run in `folder`: the one a resumed run had, or new."""
        self._folder, run_id = folder, folder.name
        earlier = self.client.search_runs([self.experiment_id], f"tags.`{TAG_RUN}` = '{run_id}'",
                                          max_results=1)  # fmt: skip
        name = _variant_name(folder)
        if earlier:
            self.mlflow_run_id = earlier[0].info.run_id
            self._params_logged = True  # an MLflow param cannot change: the first ones stand
            self.client.update_run(self.mlflow_run_id, status="RUNNING")
        else:
            tags = {TAG_RUN: run_id, TAG_FOLDER: str(folder),
                    TAG_RECIPE: self.recipe_path or str(folder / RECIPE_FILE)}
            run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
            self.mlflow_run_id = run.info.run_id
        self._tell(f"MLflow: {'continuing' if earlier else 'logging'} {name} at "
                   f"{self.choice.uri}, experiment {self.choice.experiment}", "info")

    def _log_params(self, path: Path) -> None:
        if self._params_logged or not path.is_file():
            return
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in recipe_params(path).items()]
        self.client.log_batch(self.mlflow_run_id, params=params, synchronous=True)
        self._params_logged = True

    def _flush(self) -> None:
        if self._pending and self.mlflow_run_id:
            batch, self._pending = self._pending, []
            self.client.log_batch(self.mlflow_run_id, metrics=batch, synchronous=True)

    def _finish(self, event: Event) -> None:
        """The last metrics, the card's numbers, the files and the run's status."""
        if self.mlflow_run_id is None or self._folder is None:
            return  # the job ended before it registered a run: nothing to log
        from mlflow.entities import Metric as MlflowMetric
        from mlflow.entities import RunTag

        folder = self._folder
        self._log_params(folder / RECIPE_FILE)
        card = read_card(folder) if isinstance(event, Finished) else {}
        now = int(time.time() * 1000)
        self._pending += [MlflowMetric(k, v, now, self._last_step)
                          for k, v in card_metrics(card).items()]  # fmt: skip
        self._flush()
        tags = [RunTag(TAG_PARENT, parent)] if (parent := self._parent(card)) else []
        if isinstance(event, Failed) and event.error:
            tags.append(RunTag(TAG_ERROR, event.error[:5000]))
        if tags:
            self.client.log_batch(self.mlflow_run_id, tags=tags, synchronous=True)
        for path, where in run_files(folder, card, self.choice.onnx):
            self.client.log_artifact(self.mlflow_run_id, str(path), where)
        self.client.set_terminated(self.mlflow_run_id, END_STATUS[type(event)])

    def _parent(self, card: dict[str, Any]) -> str | None:
        """The parent run id: from the card, else the workspace's index (a run with no card)."""
        if card.get("parent"):
            return str(card["parent"])
        if self.workspace is None or self._folder is None:
            return None
        from engine.store import Workspace

        ws = self.workspace
        try:
            ws = ws if isinstance(ws, Workspace) else Workspace(ws)
            return ws.get(self._folder.name).parent
        except Exception:  # an index that cannot be read: the tag is left out
            return None

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker has ended (for tests); True when it has."""
        return self._done.wait(timeout_s)


def _probe(uri: str, timeout_s: float) -> None:
    """Raise ConnectionError when nothing answers at `uri` (any HTTP answer counts: the
    server may want a login; MLflow's own calls would retry for minutes)."""
    import requests

    try:
        requests.get(uri, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as exc:
        reason = exc.__class__.__name__
        raise ConnectionError(f"no answer within {timeout_s:.0f} s ({reason})") from None


def _sqlite_artifacts(uri: str) -> str | None:
    """For a new experiment in a local sqlite store: artifacts in mlruns/ beside the database
    (MLflow's own default is ./mlruns in whatever folder the app was started from)."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///"):]).expanduser().resolve()
    return (db.parent / "mlruns").as_uri()


def _variant_name(folder: Path) -> str:
    """The variant's name as its run recorded it (the run id when the file will not read)."""
    try:
        return recipe_params(folder / RECIPE_FILE).get("name") or folder.name
    except Exception:  # only a display name: the run id serves as well
        return folder.name


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _hint(exc: BaseException) -> str:
    """The reason in one line, with the fix for what MLflow 3 refuses by default."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("mlflow"):
        return f"MLflow is not installed here: {INSTALL_HINT}"
    if "MLFLOW_ALLOW_FILE_STORE" in str(exc):
        return ("MLflow 3 refuses a folder store unless MLFLOW_ALLOW_FILE_STORE=true is set; "
                "set it, or log to sqlite:///mlflow.db (pip install sqlalchemy alembic) or "
                "to a server (http://host:5000)")
    return _short(exc)


def _short(exc: BaseException) -> str:
    """An exception as one short line (MLflow's messages run to paragraphs)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
