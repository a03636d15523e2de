"""A stored recipe as a reader wants it: the steps, then only the settings that differ from
the defaults (in the recipe diff's words), with the full YAML kept for whoever needs it."""

from __future__ import annotations

from typing import Any

from engine.compare.recipe_diff import (
    SECTIONS,
    config_changes,
    fmt_value,
    step_label,
    stored_recipe,
)

ALWAYS = {"model": ("source", "path"), "data": ("source", "path")}  # shown even at their defaults


def _section_settings(name: str, cfg: Any) -> list[tuple[str, str]]:
    """(field, value) for the fields of one section that differ from its defaults."""
    try:
        default = type(cfg)()
    except TypeError:  # a section without defaults for every field: show it whole
        default = None
    shown = [(f, fmt_value(getattr(cfg, f))) for f in ALWAYS.get(name, ())]
    if default is None:
        return shown
    seen = {f for f, _ in shown}
    for c in config_changes(default, cfg, name):
        field = c.path.split(".", 1)[1]
        if field not in seen:
            shown.append((field, fmt_value(c.after)))
    return shown


def _step_settings(cfg: Any, i: int) -> list[tuple[str, str]]:
    try:
        default = type(cfg)()
    except TypeError:
        return []
    return [(c.path.split(".", 1)[1], fmt_value(c.after))
            for c in config_changes(default, cfg, f"methods[{i}]")]


def readable_recipe(recipe_yaml: str) -> dict[str, Any]:
    """{steps: [{label, settings}], sections: [{name, settings}], yaml, error}."""
    try:
        recipe = stored_recipe(recipe_yaml)
    except Exception as exc:  # an older or hand-edited recipe: the YAML is still shown
        return {"steps": [], "sections": [], "yaml": recipe_yaml,
                "error": f"the stored recipe does not parse: {str(exc).splitlines()[0][:200]}"}
    steps = [{"label": step_label(cfg), "settings": _step_settings(cfg, i)}
             for i, cfg in enumerate(recipe.methods)]
    sections = [{"name": s, "settings": _section_settings(s, getattr(recipe, s))} for s in SECTIONS]
    return {"steps": steps, "sections": [s for s in sections if s["settings"]],
            "yaml": recipe_yaml, "error": ""}
