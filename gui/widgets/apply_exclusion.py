"""Put layer names into a recipe's quantize step `exclude_nodes` (the one-click fix).

The Export page's "Keep the N worst in fp32" names layers of a finished variant. They go
into the quantize step of the recipe being edited when that recipe is the variant's (same
model, a step that has exclude_nodes); otherwise into the variant's own recipe, which then
becomes the one being edited, so the change never lands on an unrelated recipe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.recipe import Recipe
from engine.registry import method_type_name


def _step_index(methods: tuple[Any, ...], step: int, type_name: str | None) -> int | None:
    """Index of the step to change: the artifact's own step when it fits, else the only one."""
    fits = [
        i for i, cfg in enumerate(methods)
        if dataclasses.is_dataclass(cfg) and hasattr(cfg, "exclude_nodes")
        and (type_name is None or method_type_name(cfg) == type_name)
    ]  # fmt: skip
    if step - 1 in fits:
        return step - 1
    return fits[0] if len(fits) == 1 else None


def with_excluded(recipe: Recipe, step: int, names: list[str], type_name: str | None = None) -> Recipe | None:
    """The recipe with `names` added to step `step`'s exclude_nodes (None: no such step)."""
    index = _step_index(tuple(recipe.methods), step, type_name)
    if index is None:
        return None
    cfg = recipe.methods[index]
    kept = tuple(cfg.exclude_nodes) + tuple(n for n in names if n not in cfg.exclude_nodes)
    methods = list(recipe.methods)
    methods[index] = dataclasses.replace(cfg, exclude_nodes=kept)
    return recipe.replace(methods=tuple(methods))


def apply_exclusion(
    current: Recipe, variant_yaml: str, step: int, names: list[str]
) -> tuple[Recipe | None, str]:
    """(recipe to edit, one plain line saying what changed) — recipe None when nothing fits."""
    own = Recipe.from_yaml(variant_yaml) if variant_yaml else None
    type_name = None
    if own is not None and 0 < step <= len(own.methods):
        type_name = method_type_name(own.methods[step - 1])
    listed = ", ".join(names)
    if own is None or current.model == own.model:
        changed = with_excluded(current, step, names, type_name)
        if changed is not None:
            return changed, f"Kept in fp32 in the recipe being edited ({type_name or 'quantize'} " \
                            f"step exclude_nodes): {listed}. Run it again from the Run page."
    changed = with_excluded(own, step, names, type_name) if own is not None else None
    if changed is None:
        return None, "No quantize step with exclude_nodes to put these layers in."
    return changed, f"Loaded this variant's recipe with {listed} kept in fp32 " \
                    f"({type_name} step exclude_nodes). Run it again from the Run page."
