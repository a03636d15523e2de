"""What changed between two variants' recipes, as a readable list of changes.

The recipes are compared as their config dataclasses, field by field, so a field one YAML
file leaves out is compared at its default (and says so) instead of showing up as "added".
Method steps are matched by position and type: a step of another type at the same position
is one step removed and another added, never a list of unrelated field changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engine.recipe import Recipe

# the sections compared field by field, in the order the recipe file writes them
SECTIONS = ("model", "data", "train", "export", "checks", "deploy")


@dataclass(frozen=True)
class Change:
    """One difference: `path` as recipes name fields ("train.lr", "methods[1]")."""

    path: str
    kind: str  # "changed" | "added" | "removed"
    before: Any = None
    after: Any = None
    text: str = ""  # the readable line: "train.lr: 0.001 (default) → 0.0003"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (values as the text shows them)."""
        return {"path": self.path, "kind": self.kind, "before": _plain(self.before),
                "after": _plain(self.after), "text": self.text}


def stored_recipe(recipe_yaml: str) -> Recipe:
    """A variant's stored recipe (Variant.recipe), never trusted to unpickle anything."""
    return Recipe.from_yaml(recipe_yaml, "stored recipe").untrusted()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def fmt_value(value: Any) -> str:
    """A value as a recipe reader writes it: 0.0003, [a, b], none, 'text'."""
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value) if (not value or " " in value) else value
    return repr(value) if isinstance(value, float) else str(value)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _side(value: Any, default: Any) -> str:
    # "(default)": the side that leaves the field out, or sets it to what leaving it out gives
    return fmt_value(value) + (" (default)" if value == default else "")


def config_changes(a: Any, b: Any, path: str) -> list[Change]:
    """Field-by-field changes between two configs of one class (nested configs recursed)."""
    out: list[Change] = []
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if va == vb:
            continue
        where = f"{path}.{f.name}"
        if (dataclasses.is_dataclass(va) and not isinstance(va, type)
                and type(va) is type(vb)):
            out += config_changes(va, vb, where)  # a teacher's model spec: its own fields
            continue
        default = _default(f)
        out.append(Change(where, "changed", va, vb,
                          f"{where}: {_side(va, default)} → {_side(vb, default)}"))
    return out


def step_label(cfg: Any) -> str:
    """A step as the card names it: the method's describe(), else method_label's form."""
    from engine.registry import entry_for_config
    from engine.report import method_label

    entry = entry_for_config(cfg)
    return entry.describe(cfg) if entry.describe else method_label(cfg)


def _step_change(i: int, cfg: Any, kind: str) -> Change:
    label = step_label(cfg)
    return Change(f"methods[{i}]", kind, label if kind == "removed" else None,
                  label if kind == "added" else None, f"methods: Step {i + 1} {kind}: {label}")


def step_changes(a: tuple[Any, ...], b: tuple[Any, ...]) -> list[Change]:
    """Steps matched by position and type; another type at one position: removed + added."""
    out: list[Change] = []
    for i in range(max(len(a), len(b))):
        sa = a[i] if i < len(a) else None
        sb = b[i] if i < len(b) else None
        if sa is not None and sb is not None and type(sa) is type(sb):
            out += config_changes(sa, sb, f"methods[{i}]")
            continue
        if sa is not None:
            out.append(_step_change(i, sa, "removed"))
        if sb is not None:
            out.append(_step_change(i, sb, "added"))
    return out


def recipe_diff(a: Recipe, b: Recipe) -> list[Change]:
    """Every difference from recipe `a` to recipe `b`, in recipe-file order."""
    out: list[Change] = []
    for key in ("name", "parent"):
        va, vb = getattr(a, key), getattr(b, key)
        if va != vb:
            out.append(Change(key, "changed", va, vb, f"{key}: {fmt_value(va)} → {fmt_value(vb)}"))
    for section in SECTIONS[:2]:
        out += config_changes(getattr(a, section), getattr(b, section), section)
    out += step_changes(a.methods, b.methods)
    for section in SECTIONS[2:]:
        out += config_changes(getattr(a, section), getattr(b, section), section)
    if a.notes != b.notes:  # free text: say that it changed, not a wall of it
        out.append(Change("notes", "changed", a.notes, b.notes, "notes: changed"))
    return out


def diff_text(changes: list[Change]) -> str:
    """The changes as lines for a terminal ('same recipe' when there are none)."""
    return "\n".join(c.text for c in changes) if changes else "same recipe"
