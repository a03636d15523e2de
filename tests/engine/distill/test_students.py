"""Students built from a teacher: layer drop keeps the teacher's blocks and reloads as an ordinary
model of its family; a smaller configuration is a narrower/shallower random model."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from engine.methods.distill.blocks import transformer_blocks
from engine.methods.distill.students import (
    default_keep,
    drop_layers,
    refresh_loaded,
    smaller_config,
    student_summary,
)
from tests.engine.distill.student_models import LABELS, VOCAB, batch, build, logits

KINDS = ("tiny-gpt", "tiny-bert", "bert", "gpt2", "llama")
PATHS = {
    "tiny-gpt": "blocks",
    "tiny-bert": "blocks",
    "bert": "model.bert.encoder.layer",
    "gpt2": "model.transformer.h",
    "llama": "model.model.layers",
}


def out_shape(kind: str) -> tuple[int, ...]:
    return (2, LABELS) if kind.endswith("bert") else (2, 8, VOCAB)


def layer_count(module: nn.Module) -> int:
    """What the model's own config says, the number a rebuild reads."""
    inner = getattr(module, "model", None)
    return inner.config.num_hidden_layers if inner is not None else module.config.n_layer


@pytest.mark.parametrize("kind", KINDS)
def test_blocks_are_found_by_family(kind):
    path, blocks = transformer_blocks(build(kind))
    assert (path, len(blocks)) == (PATHS[kind], 4)


def test_a_model_without_blocks_is_one_line_naming_its_type():
    with pytest.raises(ValueError, match="Sequential has no stack of transformer blocks") as e:
        transformer_blocks(nn.Sequential(nn.Linear(4, 4)))
    assert "\n" not in str(e.value)


def test_default_keep_is_every_other_block():
    assert [default_keep(n) for n in (1, 2, 3, 4, 6)] == [[0], [0], [0, 2], [0, 2], [0, 2, 4]]


@pytest.mark.parametrize("kind", KINDS)
def test_layer_drop_keeps_the_chosen_blocks_with_the_teachers_weights(kind):
    teacher = build(kind)
    student = copy.deepcopy(teacher)
    blocks_before = transformer_blocks(student)[1]
    drop_layers(student, [3, 1])  # any order: kept in teacher order
    blocks = transformer_blocks(student)[1]
    assert blocks is blocks_before and len(blocks) == 2 and layer_count(student) == 2
    t_blocks = transformer_blocks(teacher)[1]
    for s_block, t_index in zip(blocks, (1, 3), strict=True):
        t_state, s_state = t_blocks[t_index].state_dict(), s_block.state_dict()
        assert s_state.keys() == t_state.keys()
        assert all(torch.equal(s_state[k], t_state[k]) for k in t_state)
    out = logits(student)
    assert out.shape == logits(teacher).shape == out_shape(kind)
    assert torch.isfinite(out).all() and not torch.allclose(out, logits(teacher))
    # HF attention addresses the KV cache by layer_idx: the kept blocks are renumbered
    idx = [m.layer_idx for m in student.modules() if isinstance(getattr(m, "layer_idx", None), int)]
    assert sorted(set(idx)) == ([] if kind.startswith("tiny-") else [0, 1])


@pytest.mark.parametrize("name", ["tiny-gpt", "tiny-bert"])
def test_builtin_student_reloads_from_a_workbench_checkpoint(name, tmp_path):
    from engine.models.builtin import tiny_loaded
    from engine.models.checkpoint import load_checkpoint, save_model

    loaded = tiny_loaded(name, build(name))
    student = loaded.module
    drop_layers(student, default_keep(4))
    refresh_loaded(loaded)  # the description and recorded config follow the cut module
    assert "2 layers" in loaded.description and loaded.extra["config"]["n_layer"] == 2
    save_model(loaded, tmp_path / "student")
    back = load_checkpoint(tmp_path / "student")
    assert type(back.module) is type(student) and back.module.config == student.config
    assert len(back.module.blocks) == 2 and "2 layers" in back.description
    assert torch.equal(logits(back.module), logits(student))


@pytest.mark.parametrize(("family", "task"), [("bert", "classification"), ("llama", "causal-lm")])
def test_hf_student_loads_back_with_from_pretrained(family, task, tmp_path):
    import transformers as tf

    from engine.models.checkpoint import load_checkpoint, save_model
    from engine.models.hf import auto_class, wrap_hf

    loaded = wrap_hf(build(family).model, task, None, "hf", family, {})
    student = loaded.module
    drop_layers(student, [0, 3])
    refresh_loaded(loaded)
    assert loaded.description.startswith(f"{family}: ") and ", 2 layers, d=32, " in loaded.description
    save_model(loaded, tmp_path / "student")
    plain = auto_class(task).from_pretrained(str(tmp_path / "student"), local_files_only=True)
    family_cls = tf.BertForSequenceClassification if family == "bert" else tf.LlamaForCausalLM
    assert type(plain) is family_cls and plain.config.num_hidden_layers == 2
    ids, mask = batch()
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids, attention_mask=mask).logits, logits(student))
    assert torch.equal(logits(load_checkpoint(tmp_path / "student").module), logits(student))
    if family == "llama":  # a cached forward fills one cache layer per kept block, in order
        with torch.no_grad():
            cache = plain(input_ids=ids, use_cache=True).past_key_values
        assert len(cache.layers) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_smaller_config_is_a_smaller_random_model_with_the_same_outputs(kind):
    teacher = build(kind)
    for layers, width in ((2, None), (3, 0.5)):
        student = smaller_config(teacher, layers, width)
        assert type(student) is type(teacher) and len(transformer_blocks(student)[1]) == layers
        assert sum(p.numel() for p in student.parameters()) < sum(
            p.numel() for p in teacher.parameters())
        out = logits(student)
        assert out.shape == out_shape(kind) and torch.isfinite(out).all()
        summary = student_summary(teacher, student)
        assert summary["kept_blocks"] is None and summary["params_ratio"] < 1
    narrow = student.model.config.hidden_size if kind in ("bert", "gpt2", "llama") else (
        student.config.d_model)
    assert narrow == 16  # half of 32, still divisible by the 2 heads


def test_summary_names_the_kept_blocks():
    teacher = build("bert")
    student = copy.deepcopy(teacher)
    drop_layers(student, [0, 2])
    summary = student_summary(teacher, student)
    assert summary["kept_blocks"] == [0, 2]
    assert (summary["teacher_blocks"], summary["student_blocks"]) == (4, 2)
    assert summary["student_params"] < summary["teacher_params"]
    assert student_summary(teacher, student, keep=[2, 0])["kept_blocks"] == [0, 2]


@pytest.mark.parametrize(
    ("keep", "words"),
    [
        ([], "keep_layers is empty"),
        ([0, 4], "keep_layers has 4, out of range: the teacher has 4 blocks"),
        ([-1], "keep_layers has -1, out of range"),
        ([1, 1], "keep_layers lists block 1 more than once"),
        ([0, 1, 2, 3], "keep_layers keeps all 4 teacher blocks"),
        (["1"], "keep_layers must hold block numbers"),
    ],
)
def test_bad_keep_lists_are_one_line_and_leave_the_model_whole(keep, words):
    student = build("tiny-gpt")
    before = logits(student)
    with pytest.raises(ValueError, match=words) as e:
        drop_layers(student, keep)
    assert "\n" not in str(e.value)
    assert len(student.blocks) == 4 and torch.equal(logits(student), before)


@pytest.mark.parametrize(
    ("layers", "width", "words"),
    [
        (4, None, "give the teacher's own size"),
        (0, None, "layers must be a whole number from 1"),
        (5, 0.5, "layers must be a whole number from 1"),
        (2, 1.5, "width_factor must be above 0 and at most 1"),
    ],
)
def test_smaller_config_refuses_a_student_not_smaller(layers, width, words):
    with pytest.raises(ValueError, match=words):
        smaller_config(build("tiny-bert"), layers, width)


def test_position_scaled_gpt2_is_refused():
    teacher = build("gpt2")
    teacher.model.config.scale_attn_by_inverse_layer_idx = True
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        drop_layers(teacher, [0])
