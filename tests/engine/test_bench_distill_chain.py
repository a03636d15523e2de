"""bench/distill_chain.py: its links' recipes validate, the file breakdown adds up, and the
int4-embedding file it builds runs; the whole --quick chain on MiniLM is marked slow.

A broken link (a recipe the workbench refuses) shows in the suite instead of minutes into a
bench run; the breakdown is checked on a tiny BERT whose table sizes are known exactly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from tests.engine.quantize.tiny_onnx import export_text, text_batch

BENCH = Path(__file__).resolve().parents[2] / "bench"
VOCAB, HIDDEN, POSITIONS = 96, 64, 40  # hidden: one int4 block of 64 a row


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipes():
    return _module("distill_chain_recipes")


@pytest.fixture(scope="module")
def breakdown():
    return _module("distill_chain_breakdown")


class _Bert(nn.Module):
    """forward(input_ids, attention_mask) -> logits of a tiny Hugging Face BERT classifier."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import BertConfig, BertForSequenceClassification

        cfg = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=POSITIONS, num_labels=3)  # fmt: skip
        torch.manual_seed(0)
        self.model = BertForSequenceClassification(cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return export_text(_Bert(), tmp_path_factory.mktemp("bert") / "bert.onnx", VOCAB)


def test_every_link_is_a_valid_recipe_from_the_previous_run(recipes) -> None:
    teacher = recipes.teacher_recipe(7, True)
    student = recipes.student_recipe("run-t", 7, False)
    pruned = recipes.pruned_recipe("run-s", "run-t", 0.5, 7, False)
    files = recipes.artifact_recipe("files", "run-p", list(recipes.ARTIFACTS.values()), False)
    for rec in (teacher, student, pruned, files):
        rec.validate()
    assert teacher.data.max_samples == 300 and teacher.train.max_steps == 7
    assert (student.model.source, student.model.path) == ("variant", "run-t")
    assert tuple(student.methods[0].keep_layers) == (0, 2, 4)
    prune, kd = pruned.methods  # two steps, one fine-tune: cut, then distill the cut model
    assert (prune.target, prune.amount, pruned.model.path) == ("ffn", 0.5, "run-s")
    assert (kd.student, kd.teacher, kd.teacher_model.path) == ("as_loaded", "model", "run-t")
    assert files.train.epochs == 0 and len(files.methods) == len(recipes.ARTIFACTS)
    assert files.methods[1].op_types == ("MatMul",)  # the fp32-embedding int8 row


def test_breakdown_finds_each_table_and_adds_up(breakdown, tiny_bert: Path) -> None:
    parts = breakdown.breakdown(tiny_bert)
    # fp32: 4 bytes a weight; the token-type table has 2 rows
    assert parts[breakdown.WORD]["bytes"] == VOCAB * HIDDEN * 4
    assert parts[breakdown.POSITION]["bytes"] == (POSITIONS + 2) * HIDDEN * 4
    assert parts[breakdown.HEAD]["bytes"] >= (HIDDEN * 3 + 3) * 4  # classifier (+ pooler)
    assert parts[breakdown.ENCODER]["bytes"] > 2 * 4 * HIDDEN * HIDDEN * 4  # q k v o, 2 blocks
    model = onnx.load(str(tiny_bert))
    total = sum(breakdown.tensor_bytes(i) for i in model.graph.initializer)
    assert sum(p["bytes"] for p in parts.values()) == total
    assert parts[breakdown.WORD]["dtypes"] == {"float"}


def test_int4_embeddings_shrink_the_table_and_keep_the_outputs(tiny_bert: Path, tmp_path) -> None:
    """embeddings: int4's pass on a BERT graph: word, position and token-type tables."""
    import shutil

    from engine.methods.quantize.int4_embeddings import store_tables_int4

    out = Path(shutil.copy(tiny_bert, tmp_path / "int4emb.onnx"))
    assert store_tables_int4(out, print) == 3
    bd = _module("distill_chain_breakdown")
    word = bd.breakdown(out)[bd.WORD]
    assert word["bytes"] < VOCAB * HIDDEN * 4 / 4  # half a byte a weight plus scales, zero points
    assert "float" not in word["dtypes"] or len(word["dtypes"]) > 1
    ids, mask = text_batch(2, 8, VOCAB)
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    ref = ort.InferenceSession(str(tiny_bert)).run(None, feeds)[0]
    got = ort.InferenceSession(str(out)).run(None, feeds)[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() < 0.1 * np.abs(ref).max() + 0.05


@pytest.mark.slow
def test_quick_chain_runs_end_to_end(tmp_path, capsys) -> None:
    """--quick on MiniLM: every link through the Job, the table, verdicts and breakdown
    (about 5 minutes on 2 cores)."""
    bench = _module("distill_chain")
    assert bench.main(["--quick", "--no-teacher-int8", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for row in (bench.TEACHER, bench.STUDENT, bench.PRUNED, bench.FINAL, bench.EXTRA):
        assert row in out
    assert f"{bench.FINAL}: >= 4x faster" in out
    assert "word embeddings" in out and "vocabulary pruning" in out
