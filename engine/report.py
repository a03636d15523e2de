"""The variant card: everything the CLI's `show --json` and the compare page need.

Plain JSON numbers and strings only; the same dict is stored in workspace.sqlite
and written to the run folder as report.json.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from torch import nn

from engine.config_fields import config_to_dict
from engine.methods.prune.masks import layer_sparsity, overall_sparsity
from engine.metrics_log import METRICS_FILE
from engine.recipe import Recipe
from engine.registry import method_type_name

# always shown, even at their defaults: what a reader needs to tell two variants apart
KEY_FIELDS = ("amount", "target", "n", "m", "scope", "criterion", "importance", "teacher", "student")


def _flat_dict(cfg: Any) -> dict[str, Any]:
    """config_to_dict, a nested config (a teacher's model spec) holding only what was set."""
    d = config_to_dict(cfg)
    for k, v in d.items():
        if isinstance(v, dict) and dataclasses.is_dataclass(getattr(cfg, k)):
            d[k] = config_to_dict(getattr(cfg, k), changed_only=True)
    return d


def method_label(cfg: Any) -> str:
    """Short human form of a step: key fields plus what differs from the defaults.

    e.g. unstructured_prune(criterion=magnitude, amount=0.5, scope=global, schedule=gradual)
    """
    d, defaults = _flat_dict(cfg), _flat_dict(type(cfg)())
    shown = {
        k: v
        for k, v in d.items()
        if k not in ("include", "exclude", "types")
        and (k in KEY_FIELDS or v != defaults.get(k))
        and not (k == "threshold" and d.get("mode") != "threshold")
    }
    return f"{method_type_name(cfg)}(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


def build_card(
    *,
    run_id: str,
    recipe: Recipe,
    parent: str | None,
    loaded: Any,
    data: Any,
    before: Any,
    after: Any,
    targets: list[str],
    module: nn.Module,
    metrics: dict[str, float],
    train_stats: Any,
    onnx: dict[str, Any] | None,
    folder: Path,
    started: float,
) -> dict[str, Any]:
    """Assemble the card for a finished run."""
    layers = layer_sparsity(module, targets) if targets else {}
    total = after.total_params
    card: dict[str, Any] = {
        "id": run_id,
        "name": recipe.name,
        "parent": parent,
        "status": "finished",
        "method": " + ".join(method_label(m) for m in recipe.methods) or "none",
        "task": loaded.task,
        "model": _model_section(recipe, loaded, before, after),
        "sparsity": {
            "overall": overall_sparsity(module, targets) if targets else 0.0,
            "model": 1.0 - after.nonzero_params / total if total else 0.0,
            "layers": layers,
        },
        "metrics": {k: float(v) for k, v in metrics.items()},
        "data": getattr(data, "description", None),
        "train": None,
        "onnx": onnx,
        "files": _files(folder),
        "artifacts": [],  # one entry per deployable file, filled in by the deploy stage
        "started": started,
        "finished": time.time(),
    }
    if train_stats is not None and train_stats.steps:
        card["train"] = _train_section(train_stats)
    return card


def _model_section(recipe: Recipe, loaded: Any, before: Any, after: Any) -> dict[str, Any]:
    """The card's `model`: description, source, parameter counts, size and FLOPs."""
    return {
        "description": loaded.description,
        "source": f"{recipe.model.source}:{recipe.model.path}",
        "params": after.total_params,
        "nonzero_params": after.nonzero_params,
        "params_before": before.total_params,
        "size_bytes": after.total_bytes,
        "flops": after.total_flops,
    }


def _files(folder: Path) -> dict[str, str | None]:
    """The card's `files`: the run folder and the files in it (None when not written)."""
    return {
        "folder": str(folder),
        "recipe": str(folder / "recipe.yaml"),
        "metrics": str(folder / METRICS_FILE),
        "checkpoint": str(folder / "checkpoint") if (folder / "checkpoint").exists() else None,
        "anatomy": str(folder / "anatomy.json") if (folder / "anatomy.json").exists() else None,
    }


def _train_section(train_stats: Any) -> dict[str, Any]:
    """The card's `train`: steps, seconds and throughput of the fine-tuning, and its setup
    (precision, accumulation and effective batch, clipping, checkpointing, compile)."""
    return {
        "steps": train_stats.steps,
        "seconds": round(train_stats.seconds, 3),
        "samples_per_s": train_stats.samples / train_stats.seconds
        if train_stats.seconds
        else None,
        **getattr(train_stats, "setup", {}),
        **({"skipped_steps": train_stats.skipped_steps} if train_stats.skipped_steps else {}),
    }
