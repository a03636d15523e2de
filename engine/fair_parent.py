"""The fair parent: a dense, fine-tuned control to compare a fine-tuned child with.

A pruned child is usually fine-tuned after pruning, while its recorded parent (the
baseline) is the model as loaded, never trained on the data. Comparing the two mixes the
effect of training with the effect of pruning: an untrained demo "improves" 13× by being
pruned. The fair comparison is against the same model trained the same way on the same
data with no methods at all: the dense control. `control_recipe` makes that recipe;
`comparison_parent` picks the control when the workspace has one, else the recorded parent.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from engine.config_fields import ConfigError
from engine.recipe import Recipe
from engine.store import Variant

PARENT_NOTE = "parent not fine-tuned: the comparison mixes what training did with what the method did"
CONTROL_SUFFIX = "-dense-control"
# training settings that change what is learnt (logging, checkpoints and the device do not)
_NOT_LEARNING = ("eval_every", "log_every", "checkpoint_every", "device")


def fine_tuned(card: dict[str, Any] | None) -> bool:
    """Whether the run behind a card trained its model (at least one optimizer step)."""
    steps = ((card or {}).get("train") or {}).get("steps")
    return isinstance(steps, int) and steps > 0


def parent_note(card: dict[str, Any], parent_card: dict[str, Any] | None) -> str | None:
    """PARENT_NOTE when the child was fine-tuned and the parent it is compared with was not."""
    if parent_card is not None and fine_tuned(card) and not fine_tuned(parent_card):
        return PARENT_NOTE
    return None


def _recipe(v: Variant) -> Recipe | None:
    try:
        return Recipe.from_yaml(v.recipe).untrusted()
    except (ConfigError, ValueError, TypeError):  # a recipe written by an older version
        return None


@functools.lru_cache(maxsize=4096)
def _facts(recipe_yaml: str) -> tuple[bool, str] | None:
    """(has methods, control key) of a stored recipe, parsed once per distinct text.

    Listings ask this for every pair of variants on each refresh; parsing YAML each time
    would make a large workspace's Compare page slow.
    """
    try:
        recipe = Recipe.from_yaml(recipe_yaml).untrusted()
    except (ConfigError, ValueError, TypeError):
        return None
    return bool(recipe.methods), control_key(recipe)


def control_key(recipe: Recipe) -> str:
    """What a dense control must share with its child: model, data, training and export."""
    train = {k: v for k, v in dataclasses.asdict(recipe.train).items() if k not in _NOT_LEARNING}
    return json.dumps(
        {
            "model": dataclasses.asdict(dataclasses.replace(recipe.model, trust=False)),
            "data": dataclasses.asdict(recipe.data),
            "train": train,
            "export": dataclasses.asdict(recipe.export),
        },
        sort_keys=True,
        default=str,
    )


def control_recipe(child: Variant) -> Recipe:
    """The dense fine-tuned control for `child`: its model, data, training and export, no methods."""
    recipe = _recipe(child)
    if recipe is None:
        raise ValueError(f"variant {child.name} ({child.id}) has no readable recipe to copy")
    name = child.name[: 200 - len(CONTROL_SUFFIX)] + CONTROL_SUFFIX
    return recipe.replace(
        name=name, methods=(), parent=None,
        notes=f"Dense fine-tuned control for {child.name} ({child.id}): same model, data and "
        "training, no methods, so the comparison separates pruning from training.",
    )  # fmt: skip


def needs_control(child: Variant, parent_card: dict[str, Any] | None) -> bool:
    """A fine-tuned child with methods compared against a parent that never trained."""
    facts = _facts(child.recipe)
    return bool(facts and facts[0]) and parent_note(child.card, parent_card) is not None


def find_control(variants: list[Variant], child: Variant) -> Variant | None:
    """The newest finished dense control of `child` in `variants` (same key, no methods, trained)."""
    facts = _facts(child.recipe)
    if facts is None or not facts[0]:
        return None
    for v in reversed(variants):
        if v.id == child.id or v.status != "finished" or v.missing or not fine_tuned(v.card):
            continue
        other = _facts(v.recipe)
        if other is not None and not other[0] and other[1] == facts[1]:
            return v
    return None


def comparison_parent(
    variants: list[Variant], child: Variant
) -> tuple[Variant | None, str]:
    """(the variant to compare `child` with, 'control' | 'parent'); the control wins when it exists.

    The control only replaces a parent that was not fine-tuned: a trained parent is already fair.
    """
    by_id = {v.id: v for v in variants}
    parent = by_id.get(child.parent or "")
    if fine_tuned(child.card) and (parent is None or not fine_tuned(parent.card)):
        control = find_control(variants, child)
        if control is not None:
            return control, "control"
    return parent, "parent"


def comparison_parents(variants: list[Variant]) -> dict[str, tuple[Variant | None, str]]:
    """comparison_parent for every variant at once, in one pass (for tables of many variants)."""
    by_id = {v.id: v for v in variants}
    controls: dict[str, Variant] = {}  # control key -> newest finished, fine-tuned, no methods
    for v in variants:
        facts = _facts(v.recipe)
        if facts and not facts[0] and v.status == "finished" and not v.missing and fine_tuned(v.card):
            controls[facts[1]] = v
    out: dict[str, tuple[Variant | None, str]] = {}
    for v in variants:
        parent = by_id.get(v.parent or "")
        facts = _facts(v.recipe)
        control = controls.get(facts[1]) if facts and facts[0] else None
        if control is not None and fine_tuned(v.card) and (parent is None or not fine_tuned(parent.card)):
            out[v.id] = (control, "control")
        else:
            out[v.id] = (parent, "parent")
    return out
