"""Classification data: CSV, JSONL, label folders and built-in BBC News."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from engine.config_fields import ConfigError
from engine.data import load_data
from engine.models import load_model
from engine.recipe import DataSpec, ModelSpec

ROWS = [("good movie", "pos"), ("bad plot", "neg"), ("fine acting", "pos"), ("dull", "neg")] * 5


@pytest.fixture(scope="module")
def bert2():
    return load_model(ModelSpec(path="tiny-bert", num_labels=2))


def spec(path, **kw) -> DataSpec:
    return DataSpec(source="labelled", path=str(path), max_length=16, **kw)


def write_csv(path, rows, header=("text", "label")) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def check_bundle(bundle) -> None:
    assert bundle.task == "classification"
    assert (bundle.num_labels, bundle.label_names) == (2, ["neg", "pos"])
    assert len(bundle.train) + len(bundle.val) == 20 and len(bundle.val) == 2
    every = torch.cat([bundle.train.input_ids, bundle.val.input_ids])
    labels = torch.cat([bundle.train.labels, bundle.val.labels])
    assert every.shape == (20, 16)
    for ids, label in zip(every, labels, strict=True):
        text = bytes(i for i in ids.tolist() if i < 256).decode()
        assert label.item() == (1 if text in ("good movie", "fine acting") else 0)
    item = bundle.train[0]
    assert item["labels"].shape == () and item["labels"].dtype == torch.long
    assert item["attention_mask"].sum() == len(
        bytes(i for i in item["input_ids"].tolist() if i < 256)
    )


def test_csv(tmp_path, bert2):
    write_csv(tmp_path / "d.csv", ROWS)
    check_bundle(load_data(spec(tmp_path / "d.csv"), bert2))


def test_jsonl_with_custom_fields(tmp_path, bert2):
    lines = [json.dumps({"review": t, "y": y, "id": i}) for i, (t, y) in enumerate(ROWS)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n\n")
    check_bundle(load_data(spec(tmp_path / "d.jsonl", text_field="review", label_field="y"), bert2))


def test_label_folders(tmp_path, bert2):
    for i, (text, label) in enumerate(ROWS):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / label / f"{i:02d}.txt").write_text(text)
    check_bundle(load_data(spec(tmp_path / "data"), bert2))


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = [(f"text {i}", str(i % 11)) for i in range(44)]
    write_csv(tmp_path / "d.csv", rows)
    bert = load_model(ModelSpec(path="tiny-bert", num_labels=11))
    bundle = load_data(spec(tmp_path / "d.csv"), bert)
    assert bundle.label_names == [str(i) for i in range(11)]


def test_missing_label_column_names_what_was_found(tmp_path, bert2):
    write_csv(tmp_path / "d.csv", ROWS, header=("text", "sentiment"))
    with pytest.raises(
        ConfigError,
        match="no column 'label' \\(columns found: text, sentiment\\); set data.label_field",
    ):
        load_data(spec(tmp_path / "d.csv"), bert2)
    (tmp_path / "d.jsonl").write_text(json.dumps({"body": "x", "label": "a"}) + "\n")
    with pytest.raises(
        ConfigError, match="no column 'text' \\(columns found: body, label\\); set data.text_field"
    ):
        load_data(spec(tmp_path / "d.jsonl"), bert2)


def test_empty_and_degenerate_files(tmp_path, bert2):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ConfigError, match="data file .*e.csv is empty"):
        load_data(spec(tmp_path / "e.csv"), bert2)
    write_csv(tmp_path / "h.csv", [])
    with pytest.raises(ConfigError, match="h.csv has no samples"):
        load_data(spec(tmp_path / "h.csv"), bert2)
    write_csv(tmp_path / "one.csv", [("only", "a")])
    with pytest.raises(ConfigError, match="has only 1 sample"):
        load_data(spec(tmp_path / "one.csv"), bert2)
    write_csv(tmp_path / "same.csv", [("x", "a"), ("y", "a"), ("z", "a")])
    with pytest.raises(ConfigError, match="single class \\('a'\\)"):
        load_data(spec(tmp_path / "same.csv"), bert2)
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": "x"}\n{oops\n')
    with pytest.raises(ConfigError, match="line 2 of .*bad.jsonl is not valid JSON"):
        load_data(spec(tmp_path / "bad.jsonl"), bert2)
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(ConfigError, match="use .csv, .jsonl or a folder"):
        load_data(spec(tmp_path / "d.xlsx"), bert2)
    with pytest.raises(ConfigError, match="data file not found"):
        load_data(spec(tmp_path / "missing.csv"), bert2)


def test_class_count_must_match_the_model(tmp_path):
    write_csv(tmp_path / "d.csv", ROWS)
    bert5 = load_model(ModelSpec(path="tiny-bert"))
    with pytest.raises(
        ConfigError,
        match="data has 2 classes \\(neg, pos\\) but the model's head has 5; use data with 5 "
        "classes, or set model.num_labels: 2",
    ):
        load_data(spec(tmp_path / "d.csv"), bert5)


def test_labelled_data_for_a_language_model_is_refused(tmp_path):
    write_csv(tmp_path / "d.csv", ROWS)
    gpt = load_model(ModelSpec(path="tiny-gpt"))
    with pytest.raises(
        ConfigError,
        match="is classification data, but the model is a causal-lm model; use data.source text",
    ):
        load_data(spec(tmp_path / "d.csv"), gpt)


def test_builtin_bbc_news_sample():
    bert = load_model(ModelSpec(path="tiny-bert"))
    bundle = load_data(
        DataSpec(source="builtin", path="bbc-news", max_length=64, max_samples=40), bert
    )
    assert bundle.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert (len(bundle.train), len(bundle.val)) == (36, 4)
    assert bundle.train.input_ids.shape == (36, 64)
    assert bundle.description == (
        "BBC News: 40 of 2225 texts, 5 classes (business, entertainment, politics, sports, "
        "tech; 36 train / 4 val)"
    )
    assert set(bundle.train.labels.tolist()) <= set(range(5))


def test_hf_tokenizer_pads_to_max_length(tmp_path):
    from tests.engine.test_models_hf import make_bert

    model = load_model(ModelSpec(source="hf", path=str(make_bert(tmp_path / "bert", num_labels=2))))
    write_csv(tmp_path / "d.csv", [("the market rose", "up"), ("new film", "down")] * 5)
    bundle = load_data(spec(tmp_path / "d.csv"), model)
    assert bundle.label_names == ["down", "up"] and bundle.train.input_ids.shape == (9, 16)
    rows = {tuple(r.tolist()) for r in torch.cat([bundle.train.input_ids, bundle.val.input_ids])}
    assert rows == {(2, 5, 6, 8, 3) + (0,) * 11, (2, 9, 7, 3) + (0,) * 12}
