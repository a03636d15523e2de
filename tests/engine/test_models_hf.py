"""Hugging Face folders: task detection, tokenizers, heads, and checkpoint round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.config_fields import ConfigError
from engine.models import load_model, save_model
from engine.models.hf import HFLogitsWrapper
from engine.recipe import ModelSpec

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "market", "film", "rose", "new"]


def make_bert(folder: Path, num_labels: int | None = 3, tokenizer: bool = True) -> Path:
    """A tiny BERT classifier (or a bare BertModel when num_labels is None) saved to folder."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    cfg = BertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=len(WORDS),
        max_position_embeddings=64,
    )
    if num_labels:
        cfg.num_labels = num_labels
        model = BertForSequenceClassification(cfg)
    else:
        model = BertModel(cfg)
    model.save_pretrained(str(folder))
    if tokenizer:
        BertTokenizerFast(vocab={w: i for i, w in enumerate(WORDS)}).save_pretrained(str(folder))
    return folder


def make_llama(folder: Path) -> Path:
    """A tiny Llama causal LM with tied embeddings and no tokenizer files."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=50,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(cfg).save_pretrained(str(folder))
    return folder


def hf(path: Path, **kw) -> object:
    return load_model(ModelSpec(source="hf", path=str(path), **kw))


def test_bert_classifier_folder_loads_with_tokenizer(tmp_path):
    m = hf(make_bert(tmp_path / "bert"))
    assert (m.task, m.num_labels, m.vocab_size, m.kind) == ("classification", 3, 10, "hf")
    assert isinstance(m.module, HFLogitsWrapper)
    assert "model.bert.encoder.layer.0.intermediate.dense" in dict(m.module.named_modules())
    ids, mask = m.tokenizer.encode_batch(["the market rose", "new film"], max_length=8)
    assert ids[0].tolist() == [2, 5, 6, 8, 3, 0, 0, 0] and mask[1].tolist() == [1] * 4 + [0] * 4
    with torch.no_grad():
        assert m.module(ids, mask).shape == (2, 3)
    assert m.tokenizer.pad_id == 0 and m.tokenizer.encode("the film") == [5, 7]


def test_llama_folder_is_a_causal_lm_without_tokenizer(tmp_path):
    m = hf(make_llama(tmp_path / "llama"))
    assert (m.task, m.vocab_size, m.max_positions, m.tokenizer) == ("causal-lm", 50, 64, None)
    ids, mask = m.example_inputs(batch=2, seq=7)
    with torch.no_grad():
        assert m.module(ids, mask).shape == (2, 7, 50)


def test_new_head_size_replaces_the_old_head_reproducibly(tmp_path):
    folder = make_bert(tmp_path / "bert", num_labels=3)
    a, b = hf(folder, num_labels=4), hf(folder, num_labels=4)
    ids, mask = a.example_inputs(2, 6)
    with torch.no_grad():
        out = a.module(ids, mask)
        assert out.shape == (2, 4)
        torch.testing.assert_close(out, b.module(ids, mask), rtol=0, atol=0)


def test_base_model_needs_a_task(tmp_path):
    folder = make_bert(tmp_path / "base", num_labels=None, tokenizer=False)
    with pytest.raises(ConfigError, match=r"architectures: BertModel\); set model.task"):
        hf(folder)
    with pytest.raises(ConfigError, match="no classification head; set model.num_labels"):
        hf(folder, task="classification")
    m = hf(folder, num_labels=2)
    assert (m.task, m.num_labels) == ("classification", 2)


def test_folder_without_config_and_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a Hugging Face model folder \\(no config.json\\)"):
        hf(tmp_path / "empty")
    with pytest.raises(ConfigError, match="model file not found: .*nowhere"):
        hf(tmp_path / "nowhere")


def test_safetensors_beside_a_config_loads_as_the_folder(tmp_path):
    folder = make_bert(tmp_path / "bert")
    m = load_model(ModelSpec(source="safetensors", path=str(folder / "model.safetensors")))
    ref = hf(folder)
    ids, mask = ref.example_inputs(2, 5)
    with torch.no_grad():
        torch.testing.assert_close(m.module(ids, mask), ref.module(ids, mask))


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_hf_checkpoint_round_trip_gives_identical_logits(tmp_path, kind):
    folder = make_bert(tmp_path / kind) if kind == "bert" else make_llama(tmp_path / kind)
    m = hf(folder)
    with torch.no_grad():  # prune: zero half of one layer, saved as-is
        lin = m.module.model.get_submodule(
            "bert.encoder.layer.0.intermediate.dense"
            if kind == "bert"
            else "model.layers.0.mlp.up_proj"
        )
        lin.weight[: lin.weight.shape[0] // 2] = 0
    out = save_model(m, tmp_path / "ckpt")
    manifest = json.loads((out / "workbench.json").read_text())
    assert manifest["storage"] == "hf" and manifest["task"] == m.task
    back = load_model(ModelSpec(source="checkpoint", path=str(out)))
    assert (back.kind, back.task, back.num_labels) == ("checkpoint", m.task, m.num_labels)
    assert (back.tokenizer is None) == (kind == "llama")
    ids, mask = m.example_inputs(2, 9)
    with torch.no_grad():
        torch.testing.assert_close(back.module(ids, mask), m.module(ids, mask), rtol=0, atol=0)


def test_structurally_pruned_hf_model_round_trips(tmp_path):
    m = hf(make_bert(tmp_path / "bert"))
    inter = m.module.model.bert.encoder.layer[0].intermediate.dense
    out_lin = m.module.model.bert.encoder.layer[0].output.dense
    keep = torch.arange(0, 64, 2)  # drop half the MLP channels, as structured pruning would
    with torch.no_grad():
        new_in = torch.nn.Linear(32, 32)
        new_in.weight.copy_(inter.weight[keep])
        new_in.bias.copy_(inter.bias[keep])
        new_out = torch.nn.Linear(32, 32)
        new_out.weight.copy_(out_lin.weight[:, keep])
        new_out.bias.copy_(out_lin.bias)
    m.module.model.bert.encoder.layer[0].intermediate.dense = new_in
    m.module.model.bert.encoder.layer[0].output.dense = new_out
    back = load_model(ModelSpec(source="checkpoint", path=str(save_model(m, tmp_path / "c"))))
    assert back.module.model.bert.encoder.layer[0].intermediate.dense.out_features == 32
    ids, mask = m.example_inputs(2, 6)
    with torch.no_grad():
        torch.testing.assert_close(back.module(ids, mask), m.module(ids, mask), rtol=0, atol=0)


def test_tied_embeddings_stay_tied_after_a_round_trip(tmp_path):
    m = hf(make_llama(tmp_path / "llama"))
    inner = m.module.model
    assert inner.lm_head.weight is inner.model.embed_tokens.weight
    back = load_model(ModelSpec(source="checkpoint", path=str(save_model(m, tmp_path / "c"))))
    assert back.module.model.lm_head.weight is back.module.model.model.embed_tokens.weight


def test_other_safetensors_beside_a_config_loads_into_that_architecture(tmp_path):
    from safetensors.torch import save_model as save_safetensors

    folder = make_llama(tmp_path / "llama")
    ref = hf(folder)
    with torch.no_grad():
        ref.module.model.model.norm.weight.fill_(0.5)  # differs from the folder's own weights
    save_safetensors(ref.module.model, str(folder / "finetuned.safetensors"))  # bare HF keys
    m = load_model(ModelSpec(source="safetensors", path=str(folder / "finetuned.safetensors")))
    assert m.kind == "safetensors" and "weights from finetuned.safetensors" in m.description
    assert torch.equal(m.module.model.model.norm.weight, torch.full((32,), 0.5))
    ids, mask = ref.example_inputs(2, 5)
    with torch.no_grad():
        torch.testing.assert_close(m.module(ids, mask), ref.module(ids, mask), rtol=0, atol=0)
