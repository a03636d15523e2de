"""Stored sensitivity scans: each scan one JSON file under <workspace>/sensitivity/.

A scan takes minutes; its curves are worth keeping. Every finished scan (from the CLI or the
GUI's panel) is written atomically as `sensitivity/<id>.json`: which recipe and model it
was for, the levels, the curves (SensitivityResult.to_dict), the target and proposal, when,
and by which front end. The folder is the index: `list_scans` reads each file's header, so a
listing can never disagree with the files (no second index to update, nothing for two
writers to race on); a damaged file is listed as damaged, never skipped silently.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.atomic_io import atomic_write_json
from engine.context import JobContext
from engine.recipe import ModelSpec, Recipe

FOLDER = "sensitivity"
SCHEMA = 1
VERBS = {"cli": "workbench-cli sensitivity", "gui": "Optimize page: Sensitivity… Analyze",
         "api": "engine.sensitivity_store"}
_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")


def model_key(spec: ModelSpec) -> str:
    """What a scan was for, as the picker matches it: 'source:path' (e.g. builtin:tiny-gpt)."""
    return f"{spec.source}:{spec.path}"


def _keep_nonfinite(value: Any) -> Any:
    """inf/nan floats as the strings 'inf'/'nan' (float() reads them back; JSON stays strict)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _keep_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_keep_nonfinite(v) for v in value]
    return value


def scan_record(result: Any, proposal: dict[str, float], target: float, recipe: Recipe,
                by: str) -> dict[str, Any]:
    """The JSON-able record of one finished scan (a new id, now, by 'cli' or 'gui')."""
    return {
        "schema": SCHEMA,
        "id": time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "by": by,
        "verb": VERBS.get(by, by),
        "recipe": recipe.name,
        "model": model_key(recipe.model),
        "model_description": result.extra.get("model"),
        "levels": list(result.levels),
        "target": target,
        "proposal": dict(proposal),
        "result": _keep_nonfinite(result.to_dict()),
        "recipe_yaml": recipe.to_yaml(),
    }


def save_scan(root: str | Path, record: dict[str, Any]) -> Path:
    """Write the record atomically as <root>/sensitivity/<id>.json; its path."""
    return atomic_write_json(Path(root) / FOLDER / f"{record['id']}.json", record)


def _header(path: Path) -> dict[str, Any]:
    """A stored scan's listing fields; a damaged file's id with `damaged` saying why."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "result" not in data:
            raise ValueError("not a sensitivity scan record")
        layers = len((data["result"] or {}).get("layers") or {})
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        return {"id": path.stem, "damaged": f"{path}: {exc}"}
    keys = ("id", "created", "by", "verb", "recipe", "model", "model_description", "levels",
            "target")
    return {**{k: data.get(k) for k in keys}, "metric": data["result"].get("metric"),
            "layers": layers}


def list_scans(root: str | Path, model: str | None = None) -> list[dict[str, Any]]:
    """Every stored scan's header, newest first; only those for `model` (a model_key) if given."""
    folder = Path(root) / FOLDER
    paths = sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []
    heads = [_header(p) for p in paths if _ID.match(p.stem)]
    return [h for h in heads if model is None or h.get("model") == model]


def load_scan(root: str | Path, scan_id: str) -> dict[str, Any]:
    """The stored record `scan_id`; ValueError naming the id and how to list them."""
    path = Path(root) / FOLDER / f"{scan_id.strip()}.json"
    if not _ID.match(scan_id.strip()) or not path.is_file():
        raise ValueError(f"no sensitivity scan {scan_id!r} in {Path(root) / FOLDER} "
                         "(workbench-cli sensitivity --list shows them)")
    head = _header(path)
    if "damaged" in head:
        raise ValueError(f"sensitivity scan {scan_id} is damaged: {head['damaged']}")
    return json.loads(path.read_text(encoding="utf-8"))


def scan_result(record: dict[str, Any]) -> tuple[Any, dict[str, float], float]:
    """(SensitivityResult, proposal, target) of a stored record."""
    from engine.sensitivity import SensitivityResult

    try:
        result = SensitivityResult.from_dict(record["result"])
        proposal = {str(k): float(v) for k, v in (record.get("proposal") or {}).items()}
        return result, proposal, float(record.get("target", 0.5))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"sensitivity scan {record.get('id')} is damaged: {exc!r}") from None


def sensitivity_work(recipe: Recipe, levels: tuple[float, ...], target: float,
                     eval_batches: int | None, workspace: str | Path,
                     by: str) -> Callable[[JobContext], dict[str, Any]]:
    """A ContextJob's work: scan with the context's progress and cancel/pause, store the record."""
    from engine.sensitivity import run_sensitivity

    def work(ctx: JobContext) -> dict[str, Any]:
        def stop() -> bool:
            ctx.checkpoint()  # waits while paused; raises JobCancelled after a cancel
            return False

        result, proposal = run_sensitivity(recipe, levels, target, eval_batches,
                                           progress=ctx.progress, cancelled=stop,
                                           workspace=workspace)  # fmt: skip
        record = scan_record(result, proposal, target, recipe, by)
        path = save_scan(workspace, record)
        ctx.log(f"stored as sensitivity scan {record['id']} ({path})")
        return record

    return work
