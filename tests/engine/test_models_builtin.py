"""Built-in demo models: shapes, determinism, masking, and the listing the GUI shows."""

from __future__ import annotations

import pytest
import torch

from engine.config_fields import ConfigError
from engine.models import BUILTIN_MODELS, list_builtin_models, load_model
from engine.models.byte_tokenizer import ByteTokenizer
from engine.recipe import ModelSpec


def builtin(name: str, **kw) -> object:
    return load_model(ModelSpec(source="builtin", path=name, **kw))


def test_list_builtin_models_names_all_three():
    names = [n for n, _ in list_builtin_models()]
    assert names == ["tiny-gpt", "tiny-bert", "minilm-bbc"]
    assert all(desc for _, desc in list_builtin_models())
    assert set(BUILTIN_MODELS) == set(names)


def test_tiny_gpt_shapes_names_and_metadata():
    m = builtin("tiny-gpt")
    ids, mask = m.example_inputs(batch=3, seq=20)
    assert ids.shape == (3, 20) and int(ids.max()) < 258 and mask.sum() == 60
    assert m.module(ids, mask).shape == (3, 20, 258)
    assert (m.task, m.kind, m.vocab_size, m.max_positions) == ("causal-lm", "builtin", 258, 128)
    assert m.input_names == ("input_ids", "attention_mask")
    names = dict(m.module.named_modules())
    for name in (
        "tok_emb",
        "pos_emb",
        "blocks.0.attn.qkv",
        "blocks.0.attn.proj",
        "blocks.3.mlp.fc",
        "blocks.3.mlp.proj",
        "ln_f",
        "lm_head",
    ):
        assert name in names
    assert "blocks.4.attn.qkv" not in names  # exactly 4 layers
    assert m.description.startswith("tiny-gpt: GPT-style causal LM, 4 layers, d=128")


def test_tiny_gpt_is_causal_and_ignores_padded_keys():
    m = builtin("tiny-gpt")
    ids, mask = m.example_inputs(batch=1, seq=12)
    changed = ids.clone()
    changed[0, 8] = (changed[0, 8] + 1) % 256
    with torch.no_grad():
        a, b = m.module(ids, mask), m.module(changed, mask)
    assert torch.equal(a[0, :8], b[0, :8])  # the future does not leak backwards
    assert not torch.allclose(a[0, 8:], b[0, 8:])
    # left padding: masked positions must not change the logits of real tokens
    padded = torch.cat([torch.full((1, 4), 256), ids[:, :8]], dim=1)
    pmask = torch.cat([torch.zeros(1, 4, dtype=torch.long), mask[:, :8]], dim=1)
    with torch.no_grad():
        out = m.module(padded, pmask)
    assert torch.isfinite(out).all()


def test_tiny_bert_shapes_and_padding_is_ignored():
    m = builtin("tiny-bert", num_labels=3)
    assert (m.task, m.num_labels) == ("classification", 3)
    ids, mask = m.tokenizer.encode_batch(["hello world", "hi"], max_length=16)
    with torch.no_grad():
        logits = m.module(ids, mask)
        # changing what sits in padded slots must not change the prediction
        noisy = ids.clone()
        noisy[mask == 0] = 65
        logits_noisy = m.module(noisy, mask)
    assert logits.shape == (2, 3)
    torch.testing.assert_close(logits, logits_noisy)
    assert builtin("tiny-bert").num_labels == 5


@pytest.mark.parametrize("name", ["tiny-gpt", "tiny-bert"])
def test_tiny_models_are_deterministic_whatever_the_global_seed(name):
    torch.manual_seed(1)
    a = builtin(name)
    torch.manual_seed(2)
    b = builtin(name)
    for (ka, va), (kb, vb) in zip(
        a.module.state_dict().items(), b.module.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(va, vb)
    ids, mask = a.example_inputs(2, 8)
    torch.testing.assert_close(a.module(ids, mask), b.module(ids, mask), rtol=0, atol=0)


def test_byte_tokenizer_pads_truncates_and_round_trips():
    tok = ByteTokenizer()
    ids, mask = tok.encode_batch(["héllo", "x" * 40], max_length=8)
    assert ids.dtype == torch.long and ids.shape == (2, 8)
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]  # é is two bytes
    assert ids[0, 6:].tolist() == [256, 256] and mask[1].sum() == 8
    assert tok.decode(ids[0].tolist()) == "héllo"
    assert tok.encode("ab") == [97, 98]


def test_unknown_builtin_lists_the_choices():
    with pytest.raises(
        ConfigError, match="unknown built-in model 'gpt-5'.*tiny-gpt, tiny-bert, minilm-bbc"
    ):
        builtin("gpt-5")


def test_task_that_contradicts_the_builtin_is_refused():
    with pytest.raises(
        ConfigError, match="model.task is classification but tiny-gpt is a causal-lm"
    ):
        builtin("tiny-gpt", task="classification")


def test_minilm_bbc_loads_offline_with_bbc_labels():
    m = builtin("minilm-bbc")
    assert (m.task, m.num_labels, m.kind) == ("classification", 5, "builtin")
    assert m.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    ids, mask = m.tokenizer.encode_batch(["Shares rose sharply today.", "A new film"], 24)
    assert ids.shape == (2, 24) and mask[0, 0] == 1 and mask[0, -1] == 0
    with torch.no_grad():
        assert m.module(ids, mask).shape == (2, 5)
    assert "model.bert.encoder.layer.0.intermediate.dense" in dict(m.module.named_modules())
    assert "22.7" in m.description
