"""Language-model data: plain text files and built-in Shakespeare, cut into equal blocks."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from engine.config_fields import ConfigError
from engine.data import IGNORE_INDEX, load_data
from engine.data.builtin import strip_markdown
from engine.data.lm import chunk_tokens
from engine.models import load_model
from engine.recipe import DataSpec, ModelSpec


@pytest.fixture(scope="module")
def gpt():
    return load_model(ModelSpec(path="tiny-gpt"))


def text_spec(path, **kw) -> DataSpec:
    return DataSpec(source="text", path=str(path), **kw)


def test_chunk_tokens_pads_the_last_partial_block():
    ids, mask = chunk_tokens(torch.arange(23), block=8, pad_id=-1)
    assert ids.shape == (3, 8)
    assert ids[2].tolist() == [16, 17, 18, 19, 20, 21, 22, -1]
    assert mask.sum(dim=1).tolist() == [8, 8, 7]
    ids, mask = chunk_tokens(torch.arange(17), block=8, pad_id=-1)
    assert ids.shape == (2, 8)  # a single leftover token predicts nothing: dropped


def test_text_file_becomes_blocks_split_by_seed(tmp_path, gpt):
    (tmp_path / "t.txt").write_text("abcdefghij" * 100, encoding="utf-8")  # 1000 bytes
    bundle = load_data(text_spec(tmp_path / "t.txt", max_length=16, val_fraction=0.25), gpt)
    assert bundle.task == "causal-lm"
    assert len(bundle.train) + len(bundle.val) == 63  # 62 full blocks + 8 leftover tokens
    assert len(bundle.val) == 16  # round(63 * 0.25)
    item = bundle.train[0]
    assert item["input_ids"].shape == (16,) and item["input_ids"].dtype == torch.long
    assert torch.equal(item["labels"], item["input_ids"]) and item["attention_mask"].sum() == 16
    batch = next(iter(DataLoader(bundle.train, batch_size=4)))
    assert batch["input_ids"].shape == (4, 16)
    again = load_data(text_spec(tmp_path / "t.txt", max_length=16, val_fraction=0.25), gpt)
    assert torch.equal(again.val.input_ids, bundle.val.input_ids)
    other = load_data(text_spec(tmp_path / "t.txt", max_length=16, seed=1), gpt)
    assert not torch.equal(other.train.input_ids[:5], bundle.train.input_ids[:5])
    assert "1,000 tokens" in bundle.description and "(47 train / 16 val)" in bundle.description


def test_padded_positions_are_ignored_by_the_loss(tmp_path, gpt):
    (tmp_path / "t.txt").write_text("x" * 20)
    bundle = load_data(text_spec(tmp_path / "t.txt", max_length=8, val_fraction=0.3), gpt)
    every = torch.cat([bundle.train.labels, bundle.val.labels])
    assert int((every == IGNORE_INDEX).sum()) == 4  # 20 = 8 + 8 + 4 real in the padded block


def test_max_samples_caps_before_the_split(tmp_path, gpt):
    (tmp_path / "t.txt").write_text("hello world " * 500)
    bundle = load_data(text_spec(tmp_path / "t.txt", max_length=8, max_samples=20), gpt)
    assert (len(bundle.train), len(bundle.val)) == (18, 2)
    assert "20 of 750 blocks" in bundle.description


def test_bad_text_files(tmp_path, gpt):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ConfigError, match="data file .*empty.txt is empty"):
        load_data(text_spec(tmp_path / "empty.txt"), gpt)
    with pytest.raises(ConfigError, match="data file not found: .*nope.txt"):
        load_data(text_spec(tmp_path / "nope.txt"), gpt)
    (tmp_path / "short.txt").write_text("just a few words")
    with pytest.raises(
        ConfigError, match="gives 1 block\\(s\\) of 16 tokens .*smaller data.max_length"
    ):
        load_data(text_spec(tmp_path / "short.txt", max_length=16), gpt)


def test_text_data_for_a_classifier_is_refused(tmp_path):
    (tmp_path / "t.txt").write_text("some text " * 50)
    bert = load_model(ModelSpec(path="tiny-bert"))
    with pytest.raises(
        ConfigError, match="is causal-lm data, but the model is a classification model"
    ):
        load_data(text_spec(tmp_path / "t.txt"), bert)


def test_blocks_longer_than_the_model_are_refused(tmp_path, gpt):
    (tmp_path / "t.txt").write_text("x" * 1000)
    with pytest.raises(ConfigError, match="data.max_length 256 is longer than the model's 128"):
        load_data(text_spec(tmp_path / "t.txt", max_length=256), gpt)


def test_builtin_shakespeare(gpt):
    bundle = load_data(
        DataSpec(source="builtin", path="shakespeare", max_length=64, max_samples=50), gpt
    )
    assert (len(bundle.train), len(bundle.val)) == (45, 5)
    assert bundle.train.input_ids.shape == (45, 64)
    assert "Shakespeare (38 plays)" in bundle.description
    sample = gpt.tokenizer.decode(bundle.train.input_ids[:10].flatten().tolist())
    assert "**" not in sample and "#" not in sample


def test_strip_markdown_keeps_the_words():
    md = "# Macbeth\n\n## ACT I\n\n_Thunder. Enter three Witches_\n\n**First Witch**  \nWhen shall we three meet again  \n"
    assert strip_markdown(md) == (
        "Macbeth\n\nACT I\n\nThunder. Enter three Witches\n\nFirst Witch\nWhen shall we three meet again\n"
    )


def test_unknown_builtin_data_and_none(gpt):
    with pytest.raises(
        ConfigError, match="unknown built-in data 'wiki'; choose one of shakespeare, bbc-news"
    ):
        load_data(DataSpec(source="builtin", path="wiki"), gpt)
    assert load_data(DataSpec(source="none"), gpt) is None


def test_hf_language_model_needs_a_tokenizer_and_generic_models_need_no_data(tmp_path):
    from tests.engine.test_models_hf import make_llama

    (tmp_path / "t.txt").write_text("some text " * 50)
    llama = load_model(ModelSpec(source="hf", path=str(make_llama(tmp_path / "llama"))))
    with pytest.raises(ConfigError, match="the model has no tokenizer"):
        load_data(text_spec(tmp_path / "t.txt", max_length=16), llama)
    lin = torch.nn.Linear(4, 2)
    torch.save(lin, tmp_path / "lin.pt")
    generic = load_model(
        ModelSpec(source="torch", path=str(tmp_path / "lin.pt"), trust=True, input_shape=(1, 4))
    )
    with pytest.raises(ConfigError, match="generic \\(non-text\\) model; set data.source: none"):
        load_data(text_spec(tmp_path / "t.txt"), generic)


def test_byte_stream_keeps_every_byte_of_the_text(tmp_path, gpt):
    text = "Thou art more lovely — and more temperate.\n" * 3  # 135 UTF-8 bytes
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    bundle = load_data(text_spec(tmp_path / "t.txt", max_length=8, val_fraction=0.1), gpt)
    every = torch.cat([bundle.train.input_ids, bundle.val.input_ids])
    assert every.shape == (17, 8)  # 16 full blocks + 7 bytes padded
    assert sorted(every[every != 256].tolist()) == sorted(text.encode("utf-8"))
