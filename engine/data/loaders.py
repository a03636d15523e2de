"""load_data(spec, model): the training data a DataSpec describes, tokenized for that model."""

from __future__ import annotations

from pathlib import Path

from engine.data.builtin import BUILTIN_DATA, bbc_news, shakespeare_documents
from engine.data.bundle import DataBundle, DataLoadError
from engine.data.classify import classification_bundle
from engine.data.labelled_files import read_labelled
from engine.data.lm import encode_documents, lm_bundle
from engine.data.text_files import TextDecoding, read_nonempty_text
from engine.models.types import LoadedModel, Tokenizer
from engine.recipe import DataSpec


def _data_task(spec: DataSpec) -> str:
    """The task a data source serves: causal-lm for text, classification for labelled."""
    if spec.source == "builtin":
        entry = BUILTIN_DATA.get(spec.path.strip())
        if entry is None:
            raise DataLoadError(
                f"unknown built-in data {spec.path!r}; choose one of {', '.join(BUILTIN_DATA)}"
            )
        return entry[0]
    if spec.source == "text":
        return "causal-lm"
    if spec.source == "labelled":
        return "classification"
    raise DataLoadError(
        f"unknown data source {spec.source!r}; use builtin, text, labelled or none", "data.source"
    )


def _check_model(spec: DataSpec, model: LoadedModel, task: str) -> Tokenizer:
    """The model's tokenizer, after checking the model can use this data at all."""
    kind = "built-in data" if spec.source == "builtin" else f"{spec.source} data"
    what = f"{kind} {spec.path!r}"
    if model.task == "generic":
        raise DataLoadError(
            f"{what} is text, but the model is a generic (non-text) model; set data.source: none",
            "data.source",
        )
    if model.task != task:
        fix = (
            "use data.source labelled (or built-in bbc-news)"
            if model.task == "classification"
            else "use data.source text (or built-in shakespeare)"
        )
        raise DataLoadError(
            f"{what} is {task} data, but the model is a {model.task} model; {fix}",
            "data.source",
        )
    if model.tokenizer is None:
        raise DataLoadError(
            "the model has no tokenizer to turn text into ids; set model.tokenizer to a "
            "tokenizer.json or a Hugging Face tokenizer folder (or load a Hugging Face folder "
            "that includes tokenizer files, or a built-in model)",
            "model.tokenizer",
        )
    if spec.max_length > model.max_positions:
        raise DataLoadError(
            f"data.max_length {spec.max_length} is longer than the model's "
            f"{model.max_positions} positions; set data.max_length to at most {model.max_positions}",
            "data.max_length",
        )
    return model.tokenizer


def _check_labels(bundle: DataBundle, model: LoadedModel) -> DataBundle:
    """A classifier's outputs must match the data's classes one to one.

    When they do and the model has no class names of its own, it takes the data's (sorted,
    as the class ids are), so the checkpoint and the card can name the classes.
    """
    if model.num_labels is not None and model.num_labels != bundle.num_labels:
        names = ", ".join(bundle.label_names or [])
        raise DataLoadError(
            f"the data has {bundle.num_labels} classes ({names}) but the model's head has "
            f"{model.num_labels}; use data with {model.num_labels} classes, or set "
            f"model.num_labels: {bundle.num_labels} to replace the head with a new one",
            "model.num_labels",
        )
    if not model.label_names and bundle.label_names:
        model.label_names = list(bundle.label_names)
        config = getattr(getattr(model.module, "model", None), "config", None)
        if config is not None:  # a Hugging Face model saves them with its config
            config.id2label = dict(enumerate(bundle.label_names))
            config.label2id = {name: i for i, name in enumerate(bundle.label_names)}
    return bundle


def load_data(spec: DataSpec, model: LoadedModel) -> DataBundle | None:
    """Tokenized train/val data for model; None for data.source none."""
    if spec.source == "none":
        return None
    task = _data_task(spec)
    tokenizer = _check_model(spec, model, task)
    split = (spec.val_fraction, spec.max_samples, spec.seed)
    if spec.source == "builtin" and spec.path.strip() == "shakespeare":
        docs = shakespeare_documents()
        tokens = encode_documents(tokenizer, docs)
        name = f"Shakespeare ({len(docs)} plays)"
        return lm_bundle(tokens, tokenizer, spec.max_length, *split, name)
    if spec.source == "builtin":  # bbc-news
        texts, labels = bbc_news()
        bundle = classification_bundle(
            texts, labels, tokenizer, spec.max_length, *split, "BBC News"
        )
        return _check_labels(bundle, model)
    path = Path(spec.path.strip()).expanduser()
    dec = TextDecoding(spec.encoding)
    if spec.source == "text":
        tokens = encode_documents(tokenizer, [read_nonempty_text(path, dec)])
        bundle = lm_bundle(tokens, tokenizer, spec.max_length, *split, path.name)
    else:
        texts, labels = read_labelled(path, spec.text_field, spec.label_field, dec)
        bundle = classification_bundle(texts, labels, tokenizer, spec.max_length, *split, path.name)
        bundle = _check_labels(bundle, model)
    bundle.warnings = _summarise(dec.notes)
    return bundle


def _summarise(notes: list[str]) -> list[str]:
    """One warning per file, or one for them all when a folder holds many."""
    if len(notes) <= 3:
        return notes
    return [f"{len(notes)} data files are not UTF-8 and were decoded by guess, e.g. {notes[0]}"]
