"""Run a profile off the GUI thread: what to profile, its progress events, Cancel.

`ProfileJob` wraps one `engine.analysis.profile.run_profile` call in a BackgroundCall with a
JobContext whose events cross to the GUI thread as Qt signals; Cancel sets the JobControl flag
that run_profile checks between measurements (JobCancelled ends the call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.context import JobCancelled, JobContext, JobControl
from engine.events import Log, Progress
from gui.threads import BackgroundCall

MODEL = "__model__"  # the source key of the model loaded on the Model page


@dataclass
class Source:
    """What a profile runs on: the loaded model, or a finished variant (loaded in the worker)."""

    key: str  # MODEL or a run id
    loaded: Any = None  # the LoadedModel, when already loaded
    run_id: str | None = None  # the variant profile.json is stored with (None: kept in memory)
    artifacts: tuple[tuple[str, Path], ...] = ()  # (kind, ONNX file) profiled next to PyTorch


def variant_artifacts(card: dict[str, Any], run_dir: Path) -> tuple[tuple[str, Path], ...]:
    """(kind, path) of the variant's ONNX files that exist: fp32 first, then its artifacts."""
    out: dict[Path, str] = {}
    items = [("onnx-fp32", (card.get("onnx") or {}).get("path"))]
    items += [(a.get("kind"), a.get("path")) for a in card.get("artifacts") or [] if isinstance(a, dict)]
    for kind, path in items:
        if not path:
            continue
        p = Path(path) if Path(path).is_absolute() else run_dir / path
        if p.is_file() and p not in out:
            out[p] = str(kind or p.stem)
    return tuple((kind, p) for p, kind in out.items())


class _Relay(QObject):
    """Carries the worker thread's events to the GUI thread (a queued signal)."""

    event = Signal(object)


class ProfileJob(QObject):
    """One profile run; `progress(fraction, text)`, then `finished(record)` or `failed(message)`."""

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, work: Callable[[JobContext], dict[str, Any] | None], parent: QObject | None = None):
        super().__init__(parent)
        self.control = JobControl()
        self._relay = _Relay(self)
        self._relay.event.connect(self._on_event)
        ctx = JobContext(self._relay.event.emit, self.control)
        self.call = BackgroundCall(lambda: work(ctx), self._done, self._failed)

    def cancel(self) -> None:
        self.control.cancel()

    def cancelled(self) -> bool:
        return self.control.cancelled.is_set()

    def wait(self, ms: int = 30000) -> bool:
        return self.call.wait(ms)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            self.progress.emit(event.fraction, event.message)
        elif isinstance(event, Log):
            self.progress.emit(-1.0, event.message)

    def _done(self, record: dict[str, Any] | None) -> None:
        if record is None:  # stopped by Cancel
            self._failed("cancelled")
        else:
            self.finished.emit(record)

    def _failed(self, message: str) -> None:
        self.failed.emit("Profile cancelled." if self.cancelled() else f"Profile failed: {message}")


def profile_work(source: Source, cfg: Any, workspace: Any) -> Callable[[JobContext], dict[str, Any] | None]:
    """The worker's call: load a variant if needed, profile it, store profile.json by the variant."""

    def work(ctx: JobContext) -> dict[str, Any] | None:
        try:
            return _profile(source, cfg, workspace, ctx)
        except JobCancelled:  # an answer, not an error: no traceback on the console
            return None

    return work


def _profile(source: Source, cfg: Any, workspace: Any, ctx: JobContext) -> dict[str, Any]:
    from engine.analysis.profile import run_profile
    from engine.analysis.profile_store import save_profile

    loaded = source.loaded
    if loaded is None:
        from engine.models.loaders import load_model
        from engine.recipe import ModelSpec

        ctx.log(f"loading variant {source.key}…")
        loaded = load_model(ModelSpec(source="variant", path=source.key), workspace=workspace)
    record = run_profile(loaded, cfg, ctx, artifacts=source.artifacts)
    if source.run_id is not None:
        save_profile(workspace, source.run_id, record)
    return record

