"""model_parallel: blocks split in order over devices. On CPU (devices cpu,cpu) the split, the
hooks and the record run for real and must train exactly like one device; the plan is checked
on Hugging Face layouts (BERT, GPT-2 with tied embeddings, Llama); bad settings are refused in
one line naming the field."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from engine.config_fields import ConfigError
from engine.context import JobContext, JobControl
from engine.events import Log, Metric
from engine.models.hf import HFLogitsWrapper
from engine.recipe import TrainConfig
from engine.train.loop import fine_tune
from engine.train.placement import balanced_splits, config_problems, plan_placement
from engine.train.strategy import strategy_for
from engine.train.strategy_pipeline import ModelParallel
from tests.engine.train.common import CPU, shakespeare, tiny_gpt

BASE = TrainConfig(epochs=1, max_steps=3, batch_size=8, lr=3e-3, eval_every=2, eval_batches=1,
                   log_every=1, device="cpu")  # fmt: skip
SPLIT = dataclasses.replace(BASE, strategy="model_parallel", devices="cpu,cpu")


def _run(module, cfg, task="causal-lm", data=None):
    """fine_tune; (stats, metrics, log lines)."""
    data = data or shakespeare()
    events: list = []
    stats = fine_tune(module, task, data.train, data.val, cfg, JobContext(events.append, JobControl()),
                      CPU)  # fmt: skip
    # the losses (train and val), not timings
    metrics = [(e.name, e.step, e.value) for e in events
               if isinstance(e, Metric) and "loss" in e.name]  # fmt: skip
    return stats, metrics, [e.message for e in events if isinstance(e, Log)]


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _hooked(module: torch.nn.Module) -> list[str]:
    return [n for n, m in module.named_modules() if m._forward_pre_hooks or m._forward_hooks]


def test_balanced_splits_on_constructed_counts():
    assert balanced_splits([5] * 12, 2) == (6,)
    assert balanced_splits([4] * 6, 3) == (2, 4)
    assert balanced_splits([100, 1, 1, 1], 2) == (1,)  # a heavy first block stands alone
    assert balanced_splits([1, 1, 1, 100], 2) == (3,)
    # 1..9 over 3: [1-5]=15 | [6,7]=13 | [8,9]=17 is the smallest largest stage (17)
    assert balanced_splits(list(range(1, 10)), 3) == (5, 7)
    assert balanced_splits([3, 3], 2) == (1,)
    with pytest.raises(ValueError, match="cannot split 2 blocks over 3 devices"):
        balanced_splits([1, 1], 3)


def test_tiny_gpt_split_over_cpu_cpu_trains_like_one_device():
    split, one = tiny_gpt(), tiny_gpt()
    stats, metrics, logs = _run(split, SPLIT)
    stats1, metrics1, _ = _run(one, BASE)
    assert _same_weights(split, one)
    assert metrics == metrics1 and len(metrics) >= 5  # same train and val losses, step for step
    assert "model parallel: blocks 0 on cpu (25.1K params), 1 on cpu (21.0K) (balanced by " \
        "parameter count)" in logs  # fmt: skip
    placement = stats.setup["placement"]
    assert stats.setup["strategy"] == "model_parallel" and stats.setup["split_points"] == [1]
    assert [p["blocks"] for p in placement] == [[0, 0], [1, 1]]
    # embeddings with the first block, final norm and head with the last: every parameter once
    assert sum(p["params"] for p in placement) == sum(p.numel() for p in split.parameters())
    assert "placement" not in stats1.setup
    assert _hooked(split) == []  # unwrap removed every hook: save/export see the plain module


def _bert() -> torch.nn.Module:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=3,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    return HFLogitsWrapper(BertForSequenceClassification(config))


class _Labelled(torch.utils.data.Dataset):
    """Random 12-token sentences (the last 3 tokens padding) with one of 3 labels."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 64, (n, 12), generator=g)
        self.mask = torch.ones(n, 12, dtype=torch.long)
        self.mask[:, 9:] = 0
        self.labels = torch.randint(0, 3, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.labels[i]}


def test_hf_bert_split_at_a_given_point_trains_like_one_device():
    data = type("Data", (), {"train": _Labelled(24, 1), "val": _Labelled(8, 2)})()
    split, one = _bert(), _bert()
    cfg = dataclasses.replace(SPLIT, split_points=(2,))
    stats, metrics, logs = _run(split, cfg, "classification", data)
    _, metrics1, _ = _run(one, BASE, "classification", data)
    assert _same_weights(split, one)
    assert metrics == metrics1
    assert [p["blocks"] for p in stats.setup["placement"]] == [[0, 1], [2, 2]]
    assert stats.setup["balanced"] is False
    assert any(line.startswith("model parallel: blocks 0-1 on cpu (") for line in logs)
    assert _hooked(split) == []


def test_the_plan_on_hugging_face_layouts():
    gpt2 = HFLogitsWrapper(GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_layer=4,
                                                      n_head=2, n_positions=32)))  # fmt: skip
    plan = plan_placement(gpt2, ["cuda:0", "cuda:1"], (2,))
    units = dict(plan.units)
    assert plan.block_path == "model.transformer.h"
    # lm_head shares wte's matrix: it stays with the embeddings (stage 0), ln_f goes last
    assert units["model.lm_head"] == 0 and units["model.transformer.wte"] == 0
    assert units["model.transformer.ln_f"] == 1
    assert sum(s.params for s in plan.stages) == sum(p.numel() for p in gpt2.parameters())
    llama = HFLogitsWrapper(LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=64)))  # fmt: skip
    plan = plan_placement(llama, ["cuda:0", "cuda:1", "cuda:2"])
    units = dict(plan.units)
    assert plan.block_path == "model.model.layers" and plan.balanced
    assert [(s.first, s.last) for s in plan.stages] == [(0, 0), (1, 2), (3, 3)]  # embeddings, head
    assert units["model.model.rotary_emb"] == 0  # buffers only: with the first stage
    assert units["model.model.norm"] == 2 and units["model.lm_head"] == 2
    bert = plan_placement(_bert(), ["cpu", "cpu"], (1,))
    assert bert.block_path == "model.bert.encoder.layer"
    assert dict(bert.units)["model.bert.embeddings"] == 0
    assert dict(bert.units)["model.classifier"] == 1


@pytest.mark.parametrize(("points", "words"), [
    ((3,), "split point 3 is past the model's last block (2 blocks, 0-1)"),
    ((1, 2), "gives 2 split point(s) for 2 devices"),
    ((0,), "must be increasing block indices from 1"),
])  # fmt: skip
def test_bad_split_points_are_refused_naming_the_field(points, words):
    with pytest.raises(ConfigError, match="split_points") as err:
        plan_placement(tiny_gpt(), ["cpu", "cpu"], points)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_config_checks_refuse_what_this_machine_cannot_place():
    check = lambda **kw: config_problems(dataclasses.replace(SPLIT, **kw))  # noqa: E731
    assert check() == []
    assert check(devices="cpu")[0][0] == "devices"
    assert "not a device" in check(devices="cpu,gpu7")[0][1]
    if torch.cuda.device_count() < 8:
        assert "is not on this machine" in check(devices="cpu,cuda:7")[0][1]
    assert check(split_points=(2, 1), devices="cpu,cpu,cpu")[0][0] == "split_points"
    # the torchrun fields are hidden under model_parallel (one process): whatever they hold
    assert dataclasses.replace(SPLIT, nproc_per_node=4, nnodes=2).extra_checks() == []
    assert dataclasses.replace(SPLIT, nproc_per_node=4).processes == 1
    with pytest.raises(ConfigError, match="train.devices: lists 3 devices for 2 transformer"):
        plan_placement(tiny_gpt(), ["cpu"] * 3)  # more devices than blocks: known with the model
    if torch.cuda.device_count() < 2:  # empty = every GPU: none here to split over
        field, message = check(devices="")[0]
        assert field == "strategy" and "cpu,cpu" in message


@pytest.mark.skipif(__import__("importlib").util.find_spec("accelerate") is not None,
                    reason="accelerate is installed")  # fmt: skip
def test_hf_device_map_without_accelerate_is_refused_in_one_line():
    (field, message), = config_problems(dataclasses.replace(SPLIT, hf_device_map=True))
    assert field == "hf_device_map" and "pip install accelerate" in message


def test_hf_device_map_is_checked_against_the_loaded_model():
    from engine.train.strategy_pipeline import model_parallel_problems

    (error,) = model_parallel_problems(dataclasses.replace(SPLIT, hf_device_map=True), tiny_gpt())
    assert error.path == "train.hf_device_map"
    assert ("pip install accelerate" in error.message
            or "is for Hugging Face models and TinyGPT is not one" in error.message)  # fmt: skip
    assert model_parallel_problems(dataclasses.replace(SPLIT, split_points=(1,)), tiny_gpt()) == []


def test_hf_device_map_places_a_bert_with_accelerate_and_trains_like_one_device():
    pytest.importorskip("accelerate")
    data = type("Data", (), {"train": _Labelled(24, 1), "val": _Labelled(8, 2)})()
    placed, one = _bert(), _bert()
    stats, metrics, logs = _run(placed, dataclasses.replace(SPLIT, hf_device_map=True),
                                "classification", data)  # fmt: skip
    _, metrics1, _ = _run(one, BASE, "classification", data)
    assert _same_weights(placed, one) and metrics == metrics1
    assert stats.setup["hf_device_map"] == {"": "cpu"}  # on CPU accelerate keeps it whole
    assert logs[0].startswith("model parallel: accelerate device_map")
    assert _hooked(placed) == [] and "to" not in vars(placed.model)  # movable again


def test_strategy_for_builds_model_parallel_from_the_train_config():
    strategy = strategy_for("model_parallel", CPU, SPLIT)
    assert isinstance(strategy, ModelParallel) and strategy.devices == ["cpu", "cpu"]


def test_cli_refuses_split_points_past_the_blocks_in_one_line(tmp_path, capsys):
    from engine.cli import main

    recipe = tmp_path / "mp.yaml"
    recipe.write_text("name: mp\nmodel: {source: builtin, path: tiny-gpt}\n"
                      "data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 32}\n"
                      "train: {epochs: 1, max_steps: 1, device: cpu, strategy: model_parallel, "
                      "devices: 'cpu,cpu', split_points: [9]}\n"
                      "export: {enabled: false}\n", encoding="utf-8")  # fmt: skip
    assert main(["run", str(recipe), "-w", str(tmp_path / "ws")]) == 2
    # the progress lines, then one error line naming the field (no traceback)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in errors[0]
    assert errors[0].startswith("error: train.split_points: split point 9 is past the model's last")
    assert not (tmp_path / "ws" / "runs").exists() or not any((tmp_path / "ws" / "runs").iterdir())
    # `check` loads the model too, and says the same before any run
    assert main(["check", str(recipe), "-w", str(tmp_path / "ws")]) == 2
    assert "train.split_points: split point 9 is past" in capsys.readouterr().err


def test_the_shipped_recipe_runs_and_its_card_says_where_the_blocks_went(tmp_path):
    from pathlib import Path

    from engine.job import Job
    from engine.recipe import Recipe
    from tests.engine.conftest import shipped_small

    path = Path(__file__).resolve().parents[3] / "assets" / "recipes" / "tiny-gpt-model-parallel.yaml"
    recipe = Recipe.load(path)
    recipe = shipped_small(recipe, max_samples=64, steps=2, eval_batches=1)
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    train = result.card["train"]
    assert train["strategy"] == "model_parallel" and train["devices"] == ["cpu", "cpu"]
    assert [p["blocks"] for p in train["placement"]] == [[0, 1], [2, 3]]  # balanced: 4 blocks
    from engine.models.builtin import build_tiny_module

    every = sum(p.numel() for p in build_tiny_module("tiny-gpt").parameters())  # 875,776
    assert sum(p["params"] for p in train["placement"]) == every


def test_each_placed_module_gets_its_inputs_on_its_own_device():
    """A real second device on a CPU-only machine: 'meta' (shapes, no data). Blocks 0-1 stay on
    the CPU, 2-3 and the head go to meta; what each module is called with (hidden states and
    the key mask the model made on the CPU) must arrive on its device. Copying the logits back
    out of meta cannot work, so the call ends there."""
    module = build_tiny_gpt4()
    strategy = ModelParallel(CPU, "cpu,meta", (2,))
    strategy.wrap(module)
    seen: dict[str, list[str]] = {}

    def record(name):
        def hook(_m, args, kwargs):
            tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
            seen[name] = [t.device.type for t in tensors]

        return hook

    for name in ("blocks.0", "blocks.1", "blocks.2", "blocks.3", "ln_f", "lm_head"):
        module.get_submodule(name).register_forward_pre_hook(record(name), with_kwargs=True)
    ids = torch.randint(0, 200, (2, 8))
    mask = torch.ones_like(ids)
    mask[:, 6:] = 0  # padding: the blocks get a key mask too, made once by the model on the CPU
    with pytest.raises((NotImplementedError, RuntimeError), match="meta"):
        module(ids, mask)
    # every block of the second stage, not only its first, gets hidden states and mask on meta
    assert seen == {"blocks.0": ["cpu", "cpu"], "blocks.1": ["cpu", "cpu"],
                    "blocks.2": ["meta", "meta"], "blocks.3": ["meta", "meta"],
                    "ln_f": ["meta"], "lm_head": ["meta"]}  # fmt: skip
    assert module.tok_emb.weight.device.type == "cpu" and module.lm_head.weight.is_meta


def build_tiny_gpt4():
    from engine.models.builtin import build_tiny_module

    return build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 4, "n_head": 2})
