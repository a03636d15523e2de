"""Reading a recipe safely: its file refused by name when it is no recipe text, and the
parsed mapping's shape checked (sections, text fields, the step list) before any field is.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError, FieldError
from engine.safe_yaml import MAX_BYTES

SECTIONS = {
    "model": "model: {source: builtin, path: tiny-gpt}",
    "data": "data: {source: builtin, path: shakespeare}",
    "train": "train: {epochs: 1, batch_size: 16}",
    "export": "export: {enabled: true}",
    "checks": "checks: {max_accuracy_drop: 0.05}",
    "deploy": "deploy: {targets: [edge, mobile]}",
}


def check_recipe_shape(data: Any, known: set[str]) -> list[Any]:
    """Refuse a mapping of the wrong shape (one ConfigError naming the field); its step list."""
    if not isinstance(data, dict):
        raise ConfigError(
            "a recipe must be a YAML mapping with model/data/methods/train/export"
        )
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            [
                FieldError(k, f"unknown section; known: {', '.join(sorted(known))}")
                for k in unknown
            ]
        )
    for key, example in SECTIONS.items():
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ConfigError([FieldError(
                key, f"must be a mapping of settings, e.g. {example}; got {_kind(data[key])}"
            )])
    for key in ("name", "parent", "notes"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise ConfigError([FieldError(key, f"must be text, got {_kind(value)}")])
    steps = data.get("methods") or []
    if not isinstance(steps, list):
        raise ConfigError([FieldError(
            "methods", "must be a list of steps, each '- {type: ..., ...}'; got "
            f"{_kind(steps)}"
        )])
    return steps


def read_recipe_text(p: Path) -> str:
    """The text of recipe file `p`, refusing folders, huge files and non-UTF-8 text by name."""
    if p.is_dir():
        raise ConfigError(f"{p} is a folder; give the path of a recipe .yaml file")
    if not p.is_file():
        raise ConfigError(f"recipe file not found: {p}")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{p} is {size:,} bytes; a recipe is at most "
                              f"{MAX_BYTES:,} bytes, so it is refused unread")
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {p}: {exc.strerror}") from None
    if b"\0" in raw:
        raise ConfigError(f"{p} is a binary file, not YAML text; give a recipe .yaml")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{p} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None


def _kind(value: Any) -> str:
    """'a list', 'the text 'tiny-gpt'', ... for messages about a value of the wrong shape."""
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {str(value)[:40]}"


def untrusted_config(cfg: Any) -> Any:
    """`cfg` with `trust` off in itself and in every config nested in it (a step's teacher).

    Trust to unpickle is the user's decision for the file they name now; a recipe read back
    from a workspace never carries it over, wherever in the recipe a model spec sits.
    """
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "trust" and value:
            changes[f.name] = False
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = untrusted_config(value)
    return dataclasses.replace(cfg, **changes) if changes else cfg
