"""The load stage: model and data, with every check that needs them, before anything is
registered in the workspace (a bad file or setting leaves the workspace as it was)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.config_fields import ConfigError, FieldError
from engine.data import load_data
from engine.data.head_size import size_head_from_data
from engine.models.loaders import load_model
from engine.models.structure import check_finite_weights
from engine.registry import check_methods, entry_for_config
from engine.script_refusal import torchscript_problems
from engine.train.strategy_pipeline import model_parallel_problems

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.stages import JobState, Pipeline


def load_stage(p: Pipeline, s: JobState) -> None:
    """Load the recipe's model and data into `s`; refuse what cannot run, naming the field."""
    r = p.recipe
    ctx = p.enter_stage("load", "loading model and data")
    s.spec = size_head_from_data(p._resolve_model_spec(r.model), r.data)  # a new head
    s.loaded = load_model(s.spec)
    ctx.log(f"model: {s.loaded.description}")
    problems = torchscript_problems(r.methods, r.train.epochs, s.loaded.module)
    if problems:  # first: no data or fix elsewhere would let a TorchScript model train
        raise ConfigError(problems)
    if r.data.source != "none" and s.loaded.task in ("causal-lm", "classification"):
        s.data = load_data(r.data, s.loaded)
        ctx.log(f"data: {s.data.description}")
        for w in s.data.warnings:
            ctx.log(w, "warning")
    if r.train.epochs > 0 and s.data is None:
        raise ValueError(
            "train.epochs > 0 needs data: set data.source (text/labelled/builtin) "
            "or train.epochs: 0 for a prune-and-export-only recipe"
        )
    check_finite_weights(s.loaded.module, s.spec.path)
    problems = check_methods(r.methods, s.loaded.module) + artifact_step_problems(p, s)
    problems += model_parallel_problems(r.train, s.loaded.module)  # split points vs its blocks
    problems = problems or step_model_problems(p, s)  # loads a step's own model (a teacher)
    if problems:  # before anything is registered: the workspace stays as it was
        raise ConfigError(problems)
    ctx.progress(1.0)


def load_step_model(p: Pipeline, s: JobState, spec: Any) -> Any:
    """A model a step names (a teacher), loaded once through the job's workspace."""
    if spec not in s.step_models:
        s.step_models[spec] = load_model(spec, p.ws)
    return s.step_models[spec]


def step_model_problems(p: Pipeline, s: JobState) -> list[FieldError]:
    """What a step finds comparing a model it loads with the recipe's (`load_problems`)."""
    errors = []
    for i, cfg in enumerate(p.recipe.methods):
        check = getattr(cfg, "load_problems", None)
        if check is not None:
            found = check(s.loaded, lambda spec: load_step_model(p, s, spec))
            errors += [FieldError(f"methods[{i}].{name}", message) for name, message in found]
    return errors


def artifact_step_problems(p: Pipeline, s: JobState) -> list[FieldError]:
    """Steps on the exported file need an export, and some need data to calibrate on."""
    errors = []
    for i, cfg in enumerate(p.recipe.methods):
        if entry_for_config(cfg).stage != "artifact":
            continue
        if not p.recipe.export.enabled:
            errors.append(FieldError(
                f"methods[{i}]", "works on the exported ONNX file, but export.enabled is "
                "false; set export.enabled: true or remove this step",
            ))  # fmt: skip
        entry = entry_for_config(cfg)
        if entry.data_problems is not None:  # e.g. static calibration needs training data
            errors += [FieldError(f"methods[{i}].{name}", message)
                       for name, message in entry.data_problems(cfg, s.data is not None)]
    return errors
