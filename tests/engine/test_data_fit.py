"""data_fits_model: the one rule the GUI flags at once and the CLI can check before a run."""

from __future__ import annotations

from engine.data.fit import builtin_data_for, data_fits_model, data_task
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec


def test_lm_data_fits_an_lm_and_labelled_data_does_not():
    gpt = load_model(ModelSpec())
    assert data_fits_model(DataSpec(), gpt) == ""  # shakespeare for tiny-gpt
    assert data_fits_model(DataSpec(source="none"), gpt) == ""
    reason = data_fits_model(DataSpec(source="builtin", path="bbc-news"), gpt)
    assert "classification data" in reason and "causal-lm model" in reason
    assert "built-in shakespeare" in reason and "tiny-bert" in reason
    assert "\n" not in reason
    labelled = data_fits_model(DataSpec(source="labelled", path="x.csv"), gpt)
    assert "labelled data 'x.csv' is classification data" in labelled


def test_too_long_samples_name_the_model_limit():
    gpt = load_model(ModelSpec())
    reason = data_fits_model(DataSpec(max_length=gpt.max_positions * 2), gpt)
    assert f"{gpt.max_positions} positions" in reason and "data.max_length" in reason


def test_tasks_of_data_sources():
    assert data_task(DataSpec(source="text", path="a.txt")) == "causal-lm"
    assert data_task(DataSpec(source="builtin", path="bbc-news")) == "classification"
    assert data_task(DataSpec(source="none")) is None
    assert builtin_data_for("classification") == "bbc-news"


def test_the_built_in_label_counts_match_the_data():
    """BUILTIN_NUM_LABELS is what the packaged corpus really has (a head sized from it fits)."""
    from engine.data.builtin import bbc_news
    from engine.data.fit import BUILTIN_NUM_LABELS, data_num_labels

    _, labels = bbc_news()
    assert BUILTIN_NUM_LABELS["bbc-news"] == len(set(labels)) == 5
    assert data_num_labels(DataSpec(source="builtin", path="bbc-news")) == 5
    assert data_num_labels(DataSpec(source="builtin", path="shakespeare")) is None
