"""Typed config fields with the metadata forms and validation are built from.

Every config in the workbench is a frozen dataclass whose fields are declared with
`option(...)`. The GUI builds its forms from this metadata and the recipe loader
validates with it, so both show the same message for the same bad value.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

_STEP_PATH = re.compile(r"methods\[(\d+)\]")


def step_number(path: str) -> int | None:
    """1-based step a `methods[i]...` path is about (the form's "Step i+1"), else None."""
    hit = _STEP_PATH.match(str(path))  # a YAML key can be a number (`1: 2`)
    return int(hit.group(1)) + 1 if hit else None


def where(path: str) -> str:
    """How messages name a field: 'Step 2 · methods[1].amount' for a step, else the path."""
    step = step_number(path)
    return f"Step {step} · {path}" if step is not None else path


@dataclass(frozen=True)
class FieldError:
    path: str  # dotted, e.g. "methods[0].amount"
    message: str

    def __str__(self) -> str:
        # a step is named the way the Optimize page titles it, with the recipe path the CLI
        # and YAML use: "Step 1 · methods[0].amount: must be in [0, 1), got 1.5"
        return f"{where(self.path)}: {self.message}"


class ConfigError(ValueError):
    """A recipe or config that cannot run; str() is one line a person can act on."""

    def __init__(self, errors: list[FieldError] | str):
        if isinstance(errors, str):
            errors = [FieldError("recipe", errors)]
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    label: str | None = None,
    min: float | None = None,
    max: float | None = None,
    max_exclusive: bool = False,
    min_exclusive: bool = False,
    choices: tuple[Any, ...] | None = None,
    default_factory: Any = dataclasses.MISSING,
    advanced: bool = False,
    shown_when: dict[str, tuple[Any, ...]] | None = None,
    editor: str | None = None, unavailable: str | None = None,
) -> Any:
    """A dataclass field carrying help text, bounds and choices for forms and validation.

    `shown_when={"schedule": ("gradual",)}`: a form shows the field only while those other
    fields hold one of those values (the value is still validated and saved).
    `editor="layer_picker"`: forms use that named editor instead of the type's (a form without
    it falls back). `unavailable="pkg.mod.fn"`: fn() -> {choice: why}, shown greyed with why.
    """
    meta = {
        "help": help,
        "label": label,
        "min": min,
        "max": max,
        "max_exclusive": max_exclusive,
        "min_exclusive": min_exclusive,
        "choices": choices,
        "advanced": advanced,
        "shown_when": shown_when or {},
        "editor": editor, "unavailable": unavailable,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_label(f: dataclasses.Field) -> str:
    return f.metadata.get("label") or f.name.replace("_", " ").capitalize()


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, args[0] if len(args) == 1 else tp
    return False, tp


def resolved_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def nested_config(tp: Any) -> type | None:
    """The config dataclass a field holds (a teacher's ModelSpec in a step), None otherwise."""
    base = _is_optional(tp)[1]
    return base if isinstance(base, type) and dataclasses.is_dataclass(base) else None


def check_value(f: dataclasses.Field, tp: Any, value: Any) -> str | None:
    """Message for a value that violates a field's type, bounds or choices; None if fine."""
    optional, base = _is_optional(tp)
    if value is None:
        return None if optional else "is required"
    meta = f.metadata
    if base is bool:
        if not isinstance(value, bool):
            return f"must be true or false, got {value!r}"
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
    elif base is str:
        if not isinstance(value, str):
            return f"must be text, got {value!r}"
    elif typing.get_origin(base) in (tuple, dict):
        return _check_container(base, value)
    elif (sub := nested_config(base)) is not None:
        # its own fields are checked by validate_config, each under its own path
        if not isinstance(value, sub):
            return f"must be a mapping of settings, e.g. {{source: ..., path: ...}}, got {value!r}"[:160]
        return None
    if meta.get("choices") is not None and value not in meta["choices"]:
        allowed = ", ".join(str(c) for c in meta["choices"])
        return f"must be one of {allowed}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = meta.get("min"), meta.get("max")
        lo_x, hi_x = meta.get("min_exclusive"), meta.get("max_exclusive")
        if (lo is not None and (value < lo or (lo_x and value == lo))) or (
            hi is not None and (value > hi or (hi_x and value == hi))
        ):
            left = "(" if lo_x else "["
            right = ")" if hi_x else "]"
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            return f"must be in {left}{lo_s}, {hi_s}{right}, got {value:g}"
    return None


def _item_error(tp: Any, value: Any) -> str | None:
    """Why one list item / mapping value does not fit `tp` (str, int or float); None if it does."""
    if tp is str and not isinstance(value, str):
        return "text"
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "a whole number"
    if tp is float and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    ):
        return "a finite number"
    return None


def _check_container(tp: Any, value: Any) -> str | None:
    """Type of a list (tuple[X, ...]) or mapping (dict[str, X]) field and of every item."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple:
        if not isinstance(value, tuple):
            return f"must be a list, e.g. [a, b], got {value!r}"[:160]
        item = args[0] if args else Any
        for i, v in enumerate(value):
            want = _item_error(item, v)
            if want:
                return f"item {i + 1} must be {want}, got {v!r}"[:160]
        return None
    if not isinstance(value, dict):
        return f"must be a mapping, e.g. {{name: value}}, got {value!r}"[:160]
    key_tp, val_tp = args if len(args) == 2 else (Any, Any)
    for k, v in value.items():
        if _item_error(key_tp, k):
            return f"key {k!r} must be text"[:160]
        want = _item_error(val_tp, v)
        if want:
            return f"value for {k!r} must be {want}, got {v!r}"[:160]
    return None


def validate_config(cfg: Any, path: str) -> list[FieldError]:
    """Field-level checks from metadata plus the config's own `extra_checks()`."""
    errors: list[FieldError] = []
    hints = resolved_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        msg = check_value(f, hints[f.name], value)
        if msg:
            errors.append(FieldError(f"{path}.{f.name}", msg))
        elif value is not None and nested_config(hints[f.name]) is not None:
            errors.extend(validate_config(value, f"{path}.{f.name}"))
    extra = getattr(cfg, "extra_checks", None)
    if extra is not None and not errors:
        errors.extend(FieldError(f"{path}.{name}", msg) for name, msg in extra())
    return errors


def _coerce(tp: Any, value: Any) -> Any:
    """YAML gives lists for tuples and ints for floats; convert those, leave the rest."""
    optional, base = _is_optional(tp)
    if value is None:
        return None
    origin = typing.get_origin(base)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if origin is tuple and isinstance(value, str) and typing.get_args(base)[:1] == (str,):
        return (value,)  # `include: '*.mlp.*'` means the one pattern, not its characters
    if origin is dict and isinstance(value, dict):
        return dict(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base is float and isinstance(value, str):
        try:  # PyYAML reads "1e-3" as a string
            return float(value)
        except ValueError:
            return value
    return value


def _coerce_field(tp: Any, value: Any, path: str) -> Any:
    """`_coerce`, and a mapping for a nested config built into that config (errors under `path`)."""
    sub = nested_config(tp)
    if sub is None:
        return _coerce(tp, value)
    if isinstance(value, (dict, sub)) or value is None:
        return value if not isinstance(value, dict) else config_from_dict(sub, value, path)
    raise ConfigError([FieldError(path, f"must be a mapping of settings, got {value!r}"[:160])])


def config_from_dict(cls: type, data: dict[str, Any] | None, path: str) -> Any:
    """Build a config dataclass from a mapping, rejecting unknown keys by name."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError([FieldError(path, f"must be a mapping of settings, got {data!r}"[:160])])
    data = dict(data or {})
    shorthand = getattr(cls, "from_recipe", None)  # e.g. a teacher's model spec in place
    if shorthand is not None:
        data = shorthand(data)
    hints = resolved_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            [
                FieldError(
                    f"{path}.{k}", f"unknown setting; known settings: {', '.join(sorted(names))}"
                )
                for k in unknown
            ]
        )
    kwargs = {k: _coerce_field(hints[k], v, f"{path}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError([FieldError(path, str(exc))]) from exc


def config_to_dict(
    cfg: Any, changed_only: bool = False, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Plain YAML-able mapping of a config (tuples become lists).

    `changed_only`: only the fields whose value differs from the field's default (plus the
    `keep` ones), so a saved recipe holds what the user set, not every hidden default.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if changed_only and f.name not in keep and v == _field_default(f):
            continue
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            # a nested config: its own changes (against its class's defaults, which is what
            # loading the mapping back fills in)
            out[f.name] = config_to_dict(v, changed_only)
        else:
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING  # a required field: always written
