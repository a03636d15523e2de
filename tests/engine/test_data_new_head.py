"""A labelled CSV sizes a new classification head; a trained head of another size is refused."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from engine.data.fit import data_num_labels
from engine.data.head_size import data_class_names, head_is_new, size_head_from_data
from engine.job import Job
from engine.recipe import DataSpec, ExportConfig, ModelSpec, Recipe, TrainConfig
from engine.store import Workspace
from tests.engine.test_models_hf import make_bert

SENTIMENT = [("the market rose", "positive"), ("the film", "neutral"), ("new film", "negative")]


def write_sentiment(path, rows: int = 30) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(rows):
            w.writerow(SENTIMENT[i % 3])


def recipe(model: ModelSpec, data: DataSpec) -> Recipe:
    return Recipe(
        name="sentiment", model=model, data=data,
        train=TrainConfig(epochs=1, max_steps=2, batch_size=4, eval_every=2),
        export=ExportConfig(enabled=False),
    )  # fmt: skip


def test_class_names_are_read_from_csv_and_folders(tmp_path):
    write_sentiment(tmp_path / "s.csv")
    spec = DataSpec(source="labelled", path=str(tmp_path / "s.csv"))
    assert data_class_names(spec) == ["negative", "neutral", "positive"]
    assert data_num_labels(spec) == 3
    assert data_class_names(spec, max_bytes=10) is None  # too big for a quick hint
    for label in ("a", "b"):
        (tmp_path / "folders" / label).mkdir(parents=True)
    assert data_num_labels(DataSpec(source="labelled", path=str(tmp_path / "folders"))) == 2
    assert data_num_labels(DataSpec(source="labelled", path=str(tmp_path / "none.csv"))) is None


def test_only_a_new_head_is_sized_from_the_data(tmp_path):
    write_sentiment(tmp_path / "s.csv")
    data = DataSpec(source="labelled", path=str(tmp_path / "s.csv"))
    bare = ModelSpec(source="hf", path=str(make_bert(tmp_path / "bare", num_labels=None)))
    headed = ModelSpec(source="hf", path=str(make_bert(tmp_path / "headed", num_labels=2)))
    assert head_is_new(bare) and not head_is_new(headed)
    assert size_head_from_data(bare, data).num_labels == 3
    assert size_head_from_data(headed, data).num_labels is None  # the trained head decides
    explicit = dataclasses.replace(bare, num_labels=4)
    assert size_head_from_data(explicit, data).num_labels == 4  # the user's word wins
    assert size_head_from_data(ModelSpec(path="tiny-bert"), data).num_labels is None


def test_sentiment_csv_on_an_encoder_without_a_head_just_works(tmp_path):
    write_sentiment(tmp_path / "s.csv")
    folder = make_bert(tmp_path / "encoder", num_labels=None)
    r = recipe(ModelSpec(source="hf", path=str(folder)),
               DataSpec(source="labelled", path=str(tmp_path / "s.csv"), max_length=16))
    result = Job(r, workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    assert result.card["task"] == "classification"
    assert "3 classes (negative, neutral, positive;" in result.card["data"]
    saved = Workspace(tmp_path / "ws").run_dir(result.run_id) / "checkpoint"
    # the class names travel with the saved model (manifest and Hugging Face config)
    assert sum('"positive"' in p.read_text() for p in saved.glob("*.json")) >= 1


def test_a_trained_head_of_another_size_is_refused_naming_both_counts(tmp_path):
    write_sentiment(tmp_path / "s.csv")
    folder = make_bert(tmp_path / "headed", num_labels=2)
    r = recipe(ModelSpec(source="hf", path=str(folder)),
               DataSpec(source="labelled", path=str(tmp_path / "s.csv"), max_length=16))
    result = Job(r, workspace=tmp_path / "ws").run()
    assert not result.ok
    assert "the data has 3 classes (negative, neutral, positive) but the model's head has 2" in (
        result.error
    )
    assert "\n" not in result.error


@pytest.mark.parametrize("rows", [30])
def test_jsonl_with_new_classes_sizes_the_head_too(tmp_path, rows):
    import json

    lines = [json.dumps({"text": t, "label": lab}) for t, lab in SENTIMENT * (rows // 3)]
    (tmp_path / "s.jsonl").write_text("\n".join(lines), encoding="utf-8")
    data = DataSpec(source="labelled", path=str(tmp_path / "s.jsonl"))
    bare = ModelSpec(source="hf", path=str(make_bert(tmp_path / "bare", num_labels=None)))
    assert size_head_from_data(bare, data).num_labels == 3
