"""Does a recipe's data fit the loaded model? One rule, for the GUI (at once) and the CLI.

Only the spec and the model's description are read: no data is loaded or tokenized, so the
check is instant and can run on the GUI thread whenever the model or the data changes.
"""

from __future__ import annotations

from typing import Any

from engine.data.builtin import BUILTIN_DATA
from engine.recipe import DataSpec

# built-in model that serves a data task, offered when the loaded model does not fit the data
MODEL_FOR_TASK = {"causal-lm": "tiny-gpt", "classification": "tiny-bert"}


def data_task(spec: DataSpec) -> str | None:
    """causal-lm / classification for the data a spec names; None for none or unknown data."""
    if spec.source == "builtin":
        entry = BUILTIN_DATA.get(spec.path.strip())
        return entry[0] if entry else None
    return {"text": "causal-lm", "labelled": "classification"}.get(spec.source)


# classes of the built-in labelled data (counted once from the package: business,
# entertainment, politics, sport, tech), so a new head can be sized without loading it
BUILTIN_NUM_LABELS = {"bbc-news": 5}


# labelled files up to this size are read to count their classes (a GUI hint: kept quick)
HINT_MAX_BYTES = 4 << 20  # about 0.1 s of CSV parsing


def data_num_labels(spec: DataSpec) -> int | None:
    """How many classes the recipe's data has: built-ins by table, labelled files by reading
    their label column (files over HINT_MAX_BYTES are not read: None)."""
    if spec.source == "builtin":
        return BUILTIN_NUM_LABELS.get(spec.path.strip())
    from engine.data.head_size import data_class_names

    names = data_class_names(spec, HINT_MAX_BYTES)
    return len(names) if names else None


def builtin_data_for(task: str) -> str | None:
    """The built-in dataset that serves a model task (e.g. shakespeare for causal-lm)."""
    return next((name for name, (t, _) in BUILTIN_DATA.items() if t == task), None)


def _describe(spec: DataSpec) -> str:
    kind = "built-in data" if spec.source == "builtin" else f"{spec.source} data"
    return f"{kind} {spec.path.strip()!r}"


def data_fits_model(spec: DataSpec, loaded: Any) -> str:
    """'' when the data suits the loaded model, else one line saying why not and the fix."""
    if spec.source == "none":
        return ""
    task = data_task(spec)
    if task is None:
        return ""  # an unknown source/name is the recipe check's to report, with its own wording
    what = _describe(spec)
    if loaded.task == "generic":
        return f"{what} is text, but the model is a generic (non-text) model; set data.source: none"
    if loaded.task != task:
        builtin = builtin_data_for(loaded.task)
        fix = f"use built-in {builtin} data" if builtin else "use data for that task"
        return (
            f"{what} is {task} data, but the model is a {loaded.task} model; {fix}, "
            f"or load a {task} model (e.g. {MODEL_FOR_TASK[task]})"
        )
    if loaded.tokenizer is None:
        return (
            f"the model has no tokenizer to turn {what} into ids; set model.tokenizer to a "
            "tokenizer.json or a Hugging Face tokenizer folder (or load a Hugging Face folder "
            "that includes tokenizer files)"
        )
    if spec.max_length > loaded.max_positions:
        return (
            f"data.max_length {spec.max_length} is more than the model's "
            f"{loaded.max_positions} positions; set data.max_length to {loaded.max_positions} or less"
        )
    return ""
