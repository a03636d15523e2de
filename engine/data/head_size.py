"""A new classification head is sized from the data: the classes a labelled file really has.

A Hugging Face encoder without a classification head (or with model.num_labels unset) gets
model.num_labels from the data's label column, so a sentiment CSV with {negative, neutral,
positive} on a bare encoder just works. A model that already has a trained head keeps it:
a different class count in the data is refused later (engine.data.loaders) naming both counts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.config_fields import ConfigError
from engine.data.classify import class_names
from engine.recipe import DataSpec, ModelSpec


def data_class_names(spec: DataSpec, max_bytes: int | None = None) -> list[str] | None:
    """The sorted class names of `labelled` data; None for other data or when unreadable.

    Reads the file (or lists the label folders); files over max_bytes are not read (None),
    so a caller on a GUI thread can bound the cost.
    """
    if spec.source != "labelled":
        return None
    from engine.data.labelled_files import read_labelled
    from engine.data.text_files import TextDecoding

    path = Path(spec.path.strip()).expanduser()
    try:
        if path.is_dir():
            subs = [p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
            return class_names(subs) if len(subs) >= 2 else None
        if max_bytes is not None and path.stat().st_size > max_bytes:
            return None
        _, labels = read_labelled(path, spec.text_field, spec.label_field,
                                  TextDecoding(spec.encoding))
    except (ConfigError, OSError, ValueError):
        return None  # load_data reports what is wrong with the data, in its own words
    names = class_names(labels)
    return names if len(names) >= 2 else None


def _hf_folder(spec: ModelSpec) -> Path | None:
    """The Hugging Face folder a spec loads (an hf folder, or a .safetensors beside config.json)."""
    path = Path(spec.path.strip()).expanduser()
    if spec.source == "hf":
        folder = path if path.is_dir() else path.parent
    elif spec.source == "safetensors" and not spec.architecture:
        folder = path.parent
    else:
        return None  # built-ins, state_dicts and modules: their weights size the head
    return folder if (folder / "config.json").is_file() else None


def head_is_new(spec: ModelSpec) -> bool:
    """True when loading spec gives a classification head that was never trained."""
    from engine.models.hf import folder_hints

    folder = _hf_folder(spec)
    if folder is None:
        return False
    hints = folder_hints(folder)
    if any(a.endswith("ForSequenceClassification") for a in hints["architectures"]):
        return False  # a trained head: the data must fit it (or the user sets num_labels)
    # an LM folder stays an LM unless the recipe asks for a classifier
    return hints["task"] != "causal-lm" or spec.task == "classification"


def size_head_from_data(model: ModelSpec, data: DataSpec) -> ModelSpec:
    """model with num_labels set from the data's classes when its head will be new."""
    if model.num_labels or model.task not in ("auto", "classification"):
        return model
    if data.source not in ("labelled", "builtin") or not head_is_new(model):
        return model
    from engine.data.fit import BUILTIN_NUM_LABELS

    if data.source == "builtin":
        count = BUILTIN_NUM_LABELS.get(data.path.strip())
    else:
        count = len(data_class_names(data) or [])
    return dataclasses.replace(model, num_labels=count) if count else model
