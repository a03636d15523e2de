"""Run a profile off the GUI thread: what to profile, its progress events, Cancel.

`ProfileJob` runs one `engine.analysis.profile.run_profile` call as a ContextJob on a worker
thread (gui.widgets.context_job, as re-export and sensitivity do); Cancel sets the JobControl
flag that run_profile checks between measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from engine.context import JobContext
from gui.widgets.context_job import GuiContextJob

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


class ProfileJob(GuiContextJob):
    """One profile run: the ContextJob re-export and sensitivity use, under the stage "profile".

    `progress(fraction, text)` (a log line comes as fraction -1), then `finished(record)`,
    `cancelled()` or `failed(message)`.
    """

    def __init__(self, work: Callable[[JobContext], dict[str, Any]], parent: QObject | None = None):
        super().__init__("profile", work, parent=parent)
        self.log.connect(lambda text: self.progress.emit(-1.0, text))


def profile_work(source: Source, cfg: Any, workspace: Any) -> Callable[[JobContext], dict[str, Any]]:
    """The worker's call: load a variant if needed, profile it, store profile.json by the variant."""
    return lambda ctx: _profile(source, cfg, workspace, ctx)


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

