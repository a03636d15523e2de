"""`source: variant`: a model saved in the workspace, named by its variant name or run id.

Every page, the CLI and the pipeline resolve variants here, so they all load the same files.
Trust to unpickle is always the caller's spec.trust: nothing stored in the workspace (a
manifest, a stored recipe) can grant it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from engine.models.types import LoadedModel, ModelLoadError
from engine.recipe import ModelSpec, Recipe


def resolve_variant(spec: ModelSpec, workspace: Any) -> tuple[ModelSpec, Any]:
    """(spec that loads the variant's files, the Variant) for a `source: variant` spec.

    A variant with a checkpoint folder loads from it; a baseline (no methods) keeps none and
    reloads what it was loaded from. ModelLoadError (one line) when it cannot be loaded.
    """
    if workspace is None:
        raise ModelLoadError(
            f"variant {spec.path!r} lives in a workspace, and none is open; open the workspace "
            "that holds it (workbench-cli: -w DIR)",
            "model.path",
        )
    try:
        v = workspace.resolve(spec.path.strip())
    except KeyError as exc:
        raise ModelLoadError(str(exc.args[0]), "model.path") from exc
    if v.missing:
        raise ModelLoadError(
            f"variant {v.name} ({v.id}) cannot be loaded: {v.missing}; run its recipe again",
            "model.path",
        )
    ckpt = workspace.run_dir(v.id) / "checkpoint"
    if ckpt.is_dir():
        return dataclasses.replace(spec, source="checkpoint", path=str(ckpt)), v
    stored = Recipe.from_yaml(v.recipe).untrusted()
    if stored.methods or stored.model.source == "variant":
        raise ModelLoadError(
            f"variant {v.name} ({v.id}) has no checkpoint folder ({ckpt}); run its recipe again",
            "model.path",
        )
    return dataclasses.replace(stored.model, trust=spec.trust), v


def load_variant(spec: ModelSpec, workspace: Any) -> LoadedModel:
    """Load the variant a `source: variant` spec names, through the ordinary loaders."""
    from engine.models.loaders import load_model

    resolved, v = resolve_variant(spec, workspace)
    loaded = load_model(resolved)
    n_params = sum(p.numel() for p in loaded.module.parameters())
    loaded.description = variant_description(v.name, v.id, loaded.description, n_params)
    return loaded


# "0.88M params" in a description written when the checkpoint's source model was loaded
_PARAM_COUNT = re.compile(r",?\s*\d+(?:\.\d+)?M params")


def variant_description(name: str, run_id: str, source_description: str, n_params: int) -> str:
    """The variant's own line: its parameter count now, not the one its source model had."""
    base = _PARAM_COUNT.sub("", source_description).strip()
    return f"variant {name} ({run_id}), {n_params / 1e6:.2f}M params — from {base}"
