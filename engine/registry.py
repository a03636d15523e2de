"""Method registry: `config type -> handler`, one entry per optimization method.

The GUI asks this registry what exists and builds its forms from the config
dataclass fields, so adding a method is one config class + one handler + tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.config_fields import ConfigError, FieldError


@dataclass(frozen=True)
class MethodEntry:
    type_name: str  # the `type:` key in recipes
    family: str  # prune | quantize | distill
    label: str  # what the GUI shows
    config_cls: type
    handler: Callable[..., Any]  # handler(config, ctx: MethodContext) -> MethodResult
    help: str = ""
    # preview(config, module) -> {"layers", "targeted", "removed"}: live estimate for forms
    preview: Callable[[Any, Any], dict[str, int]] | None = None
    # check(config, module) -> problems that need the model to see (a pattern matching no
    # layer, N:M on a width not divisible by M...); run before anything is registered
    check: Callable[[Any, Any], list[str]] | None = None
    rank: int = 100  # menu order within the family (import order depends on who imported first)
    # what a step leaves behind: "masks" (zeros held by masks through fine-tuning), "smaller"
    # (tensors physically cut), "quantized" (a lower-precision file) or "none"; the order
    # rules below, the pipeline, the card and the compare report read it
    effect: str = "none"
    # where it acts: "module" (the nn.Module, before training), "post_train" (the module,
    # after training) or "artifact" (the exported ONNX file, in the deploy stage)
    stage: str = "module"
    # describe(cfg) -> the card's label for the step; None: engine.report.method_label's form
    describe: Callable[[Any], str] | None = None
    # finalize(cfg, module) once training is over (masks folded into the weights as zeros)
    finalize: Callable[[Any, Any], None] | None = None
    # runtime_note(card method text, ORT provider) -> why a runtime cannot turn what this
    # step leaves into speed (N:M: only sparse tensor cores run 2:4 sparse)
    runtime_note: Callable[[str, str], str] | None = None
    # data_problems(cfg, has_data) -> [(field, message)]: what the step cannot do with the
    # recipe's data (static calibration without data), known at load time
    data_problems: Callable[[Any, bool], list[tuple[str, str]]] | None = None


EFFECTS = ("masks", "smaller", "quantized", "none")
STAGES = ("module", "post_train", "artifact")

_METHODS: dict[str, MethodEntry] = {}
_ALIASES: dict[str, str] = {}


def register_method(
    type_name: str,
    family: str,
    label: str,
    config_cls: type,
    help: str = "",
    preview: Callable[[Any, Any], dict[str, int]] | None = None,
    check: Callable[[Any, Any], list[str]] | None = None,
    aliases: tuple[str, ...] = (),
    rank: int = 100,
    effect: str = "none",
    stage: str = "module",
    describe: Callable[[Any], str] | None = None,
    finalize: Callable[[Any, Any], None] | None = None,
    runtime_note: Callable[[str, str], str] | None = None,
    data_problems: Callable[[Any, bool], list[tuple[str, str]]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering `handler` for configs of `config_cls`.

    `aliases` are older `type:` names that recipes may still use; they load as this method.
    A "module" or "post_train" handler is `handler(cfg, MethodContext) -> MethodResult`; an
    "artifact" handler is `handler(cfg, ArtifactContext) -> ArtifactResult`.
    """
    if effect not in EFFECTS or stage not in STAGES:
        raise ValueError(f"{type_name}: effect must be one of {EFFECTS}, stage one of {STAGES}")

    def deco(handler: Callable[..., Any]) -> Callable[..., Any]:
        _METHODS[type_name] = MethodEntry(
            type_name, family, label, config_cls, handler, help, preview, check, rank, effect,
            stage, describe, finalize, runtime_note, data_problems,
        )  # fmt: skip
        for old in aliases:
            _ALIASES[old] = type_name
        return handler

    return deco


def _ensure_loaded() -> None:
    # Importing the method modules runs their @register_method decorators. Every module
    # under engine/methods/ (sub-packages included) is imported: a new method is a new file
    # there, with no list to edit and no name it must start with.
    import importlib
    import pkgutil

    import engine.methods as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="engine.methods."):
        importlib.import_module(info.name)


def methods(family: str | None = None) -> list[MethodEntry]:
    """Registered methods, optionally only one family, in registration order."""
    _ensure_loaded()
    found = [m for m in _METHODS.values() if family is None or m.family == family]
    return sorted(found, key=lambda m: m.rank)


def method_entry(type_name: str) -> MethodEntry:
    _ensure_loaded()
    return _METHODS[type_name]


def entry_for_type(type_name: str) -> MethodEntry | None:
    """The entry for a recipe `type:` name or an older alias of it; None if unknown."""
    _ensure_loaded()
    return _METHODS.get(_ALIASES.get(type_name, type_name))


def method_config_class(type_name: str, path: str = "type") -> type:
    """Config class for a recipe `type:`; a clear error listing the known types otherwise."""
    _ensure_loaded()
    type_name = _ALIASES.get(type_name, type_name)
    if type_name not in _METHODS:
        known = ", ".join(sorted(_METHODS))
        raise ConfigError(
            [FieldError(path, f"unknown method {type_name!r}; known methods: {known}")]
        )
    return _METHODS[type_name].config_cls


def method_type_name(config: Any) -> str:
    _ensure_loaded()
    for entry in _METHODS.values():
        if type(config) is entry.config_cls:
            return entry.type_name
    raise KeyError(f"{type(config).__name__} is not a registered method config")


def entry_for_config(config: Any) -> MethodEntry:
    return method_entry(method_type_name(config))


def _entries(configs: tuple[Any, ...] | list[Any]) -> list[MethodEntry | None]:
    out: list[MethodEntry | None] = []
    for cfg in configs:
        try:
            out.append(entry_for_config(cfg))
        except KeyError:  # not a method config: Recipe.errors names it elsewhere
            out.append(None)
    return out


def _effects(configs: tuple[Any, ...] | list[Any]) -> list[str]:
    return [e.effect if e is not None else "none" for e in _entries(configs)]


def _stage_errors(configs: tuple[Any, ...] | list[Any]) -> list[FieldError]:
    """A step on the module after a step on the exported file: the file would not have it."""
    stages = [e.stage if e is not None else "module" for e in _entries(configs)]
    errors = []
    for i, stage in enumerate(stages):
        artifact = [j for j in range(i) if stages[j] == "artifact"]
        if stage != "artifact" and artifact:
            errors.append(FieldError(
                f"methods[{i}]",
                f"this step changes the PyTorch model, but Step {artifact[0] + 1} works on the "
                f"exported file, which is made after every model step; move this step before "
                f"Step {artifact[0] + 1}",
            ))
    return errors


def order_errors(configs: tuple[Any, ...] | list[Any]) -> list[FieldError]:
    """Step orders the engine refuses, each naming the step to move (no model needed).

    - a structured (shrinking) step after a masking step: the cut would leave the earlier
      masks the old shapes (and their forward hooks would rebuild the old-sized weights);
    - a masking step with a schedule (iterative/gradual) followed by another masking step:
      its later rounds would pick weights the later step already removed, so the steps
      would no longer compose as written; the scheduled step goes last.
    """
    effects = _effects(configs)
    masks = [i for i, e in enumerate(effects) if e == "masks"]
    errors: list[FieldError] = _stage_errors(configs)
    for i, (cfg, effect) in enumerate(zip(configs, effects, strict=True)):
        earlier = [j for j in masks if j < i]
        # a step whose settings keep every tensor (a distillation of the model as loaded) may
        # follow masks: the masks stay on the same layers through its training
        if effect == "smaller" and earlier and getattr(cfg, "cuts_tensors", True):
            what = entry_for_config(cfg).label.split(" (")[0].lower()  # "structured pruning"
            errors.append(FieldError(
                f"methods[{i}]",
                f"{what} cannot follow a masking step (Step {earlier[0] + 1}); "
                f"move it before Step {earlier[0] + 1}",
            ))
        later = [j for j in masks if j > i]
        schedule = getattr(cfg, "schedule", "oneshot")
        if effect == "masks" and schedule != "oneshot" and later:
            errors.append(FieldError(
                f"methods[{i}].schedule",
                f"a {schedule} schedule keeps changing masks during fine-tuning, so it must be "
                f"the last masking step (Step {later[-1] + 1} masks after it); use schedule "
                f"oneshot, or move this step after Step {later[-1] + 1}",
            ))
    return errors


def check_methods(configs: tuple[Any, ...], module: Any) -> list[FieldError]:
    """Model-dependent problems of every method step, before anything runs."""
    errors: list[FieldError] = order_errors(configs)
    if errors:  # the per-step checks assume an order the steps can run in
        return errors
    for i, cfg in enumerate(configs):
        entry = entry_for_config(cfg)
        if entry.check is not None:
            errors += [FieldError(f"methods[{i}]", msg) for msg in entry.check(cfg, module)]
    return errors
