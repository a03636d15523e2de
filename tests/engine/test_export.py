"""ONNX export of real tiny text models: dynamic shapes, parity, latency, files on disk.

Each model is exported once per module (the dynamo exporter takes seconds) and the
tests read the shared result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from engine.export import ExportReport, export_and_check
from engine.recipe import ExportConfig

TEXT_INPUTS = ["input_ids", "attention_mask"]
VOCAB = 100


# -- tiny models, built here so these tests do not depend on engine/models -------------
class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for z in self.qkv(self.ln1(x)).split(d, dim=-1)
        )
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        y = att.masked_fill(~allowed, float("-inf")).softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TinyGPT(nn.Module):
    """Causal LM whose mask is built from the runtime sequence length."""

    def __init__(self, d: int = 32, heads: int = 4, layers: int = 2, max_len: int = 64):
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, VOCAB, bias=False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.tok(input_ids) + self.pos(pos)[None]
        causal = pos[None, :] <= pos[:, None]
        # keys must be real tokens; the diagonal stays open so no row is all -inf
        allowed = (causal[None, None] & attention_mask[:, None, None, :].bool()) | (
            pos[None, :] == pos[:, None]
        )
        for block in self.blocks:
            x = block(x, allowed)
        return self.head(self.ln(x))


class LogitsOf(nn.Module):
    """Positional forward(input_ids, attention_mask) -> logits around a Hugging Face model."""

    def __init__(self, model: nn.Module, **kwargs):
        super().__init__()
        self.model, self.kwargs = model, kwargs

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **self.kwargs).logits


def tiny_bert() -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=VOCAB,
        num_labels=3,
    )
    return LogitsOf(BertForSequenceClassification(cfg))


def tiny_llama() -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=VOCAB,
    )
    return LogitsOf(LlamaForCausalLM(cfg), use_cache=False)


def text_batch(batch: int, seq: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with the first row right-padded, so masking is exercised."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[0, max(1, seq // 2) :] = 0
    return ids, mask


CFG = ExportConfig(opset=18, parity_batches=3, latency_runs=5)


def export_text_model(module: nn.Module, folder: Path) -> tuple[ExportReport, list[str]]:
    """export_and_check on (2, 8) examples; parity on 3 batches, latency at (1, 12)."""
    logs: list[str] = []
    parity = [text_batch(2, 8, seed=s) for s in range(1, 4)]
    report = export_and_check(
        module,
        TEXT_INPUTS,
        text_batch(2, 8),
        parity,
        text_batch(1, 12),
        folder / "model.onnx",
        CFG,
        log=logs.append,
    )
    return report, logs


def pruned(module: nn.Module) -> nn.Module:
    """About half the Linear weights zeroed, as magnitude pruning leaves a model."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin in linears[:-1]:  # pruned and made permanent: zeros in the weights
            w = lin.weight
            w[w.abs() < w.abs().flatten().median()] = 0.0
        linears[0].weight.zero_()  # a whole projection pruned away
    # the LM head keeps torch.nn.utils.prune's mask hook, as a pruning job leaves it
    prune.l1_unstructured(linears[-1], "weight", amount=0.5)
    return module


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "llama-pruned":
        return pruned(tiny_llama())
    return {"gpt": TinyGPT, "bert": tiny_bert}[name]()


def zeros_in_linears(module: nn.Module) -> tuple[int, int]:
    weights = [m.weight for m in module.modules() if isinstance(m, nn.Linear)]
    return sum(int((w == 0).sum()) for w in weights), sum(w.numel() for w in weights)


MODELS = ["gpt", "bert", "llama-pruned"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """name -> (module, report, logs, folder); each model exported once, on first use."""
    done: dict[str, tuple] = {}

    def get(name: str) -> tuple:
        if name not in done:
            module = build(name).train()  # export must not care, and must restore this
            folder = tmp_path_factory.mktemp(name)
            report, logs = export_text_model(module, folder)
            done[name] = (module, report, logs, folder)
        return done[name]

    return get


@pytest.fixture(params=MODELS)
def exported(request, exports):
    """(name, module, report, logs, folder) for each tiny text model."""
    return (request.param, *exports(request.param))


def ort_run(path: str, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]


# -- the report ------------------------------------------------------------------------
def test_checker_and_parity_at_fp32(exported):
    _, _, report, _, _ = exported
    assert report.checker_ok and report.checker_message == ""
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-4
    assert report.top1_agreement == 1.0
    assert report.opset == 18
    assert report.provider == "CPUExecutionProvider"


def test_dynamo_exporter_is_used_and_logged(exported):
    _, _, report, logs, _ = exported
    assert report.exporter == "dynamo"
    assert any("wrote model.onnx with the dynamo exporter" in line for line in logs)


def test_latency_numbers(exported):
    _, _, report, _, _ = exported
    assert report.latency_shape == (1, 12)
    assert report.latency_ms_p50 is not None and report.latency_ms_p50 > 0
    assert report.latency_ms_p95 >= report.latency_ms_p50


def test_single_file_whose_size_is_reported(exported):
    _, _, report, _, folder = exported
    path = Path(report.path)
    assert path == folder / "model.onnx" and path.is_file()
    # one self-contained file, no external data and no leftovers from the atomic write
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx"]
    assert report.size_bytes == path.stat().st_size
    model = onnx.load(str(path), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_batch_and_sequence_axes_are_dynamic(exported):
    name, module, report, _, _ = exported
    model = onnx.load(report.path)
    for inp in model.graph.input:
        assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "sequence"]
    # run at shapes other than the (2, 8) example, and a batch of one
    for batch, seq in [(3, 13), (1, 5), (4, 1)]:
        ids, mask = text_batch(batch, seq, seed=batch * seq)
        got = ort_run(report.path, ids, mask)
        with torch.no_grad():
            ref = module.eval()(ids, mask).numpy()
        module.train()
        expected = (batch, 3) if name == "bert" else (batch, seq, VOCAB)
        assert got.shape == ref.shape == expected
        assert np.abs(got - ref).max() < 1e-4


def test_train_mode_is_restored(exported):
    _, module, _, _, _ = exported
    assert module.training and all(m.training for m in module.modules())


def test_report_is_json(exported):
    _, _, report, _, _ = exported
    d = json.loads(json.dumps(report.to_dict()))
    assert d["latency_shape"] == [1, 12]
    assert d["size_bytes"] == report.size_bytes and d["exporter"] == "dynamo"


# -- pruned weights --------------------------------------------------------------------
def test_half_zeroed_llama_exports_and_matches(exports):
    module, report, _, _ = exports("llama-pruned")
    zeros, total = zeros_in_linears(module)
    assert 0.45 < zeros / total < 0.6

    assert report.checker_ok
    assert report.max_abs_diff < 1e-4 and report.top1_agreement == 1.0
    # the zeros are still in the file rather than folded into something else
    model = onnx.load(report.path)
    stored = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer]
    assert sum(int((a == 0).sum()) for a in stored if a.dtype == np.float32) >= zeros
