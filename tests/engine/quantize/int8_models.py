"""Tiny token models exported to ONNX for the int8 tests, their data, and an artifact context.

TextNet has three 256x256 Linears on [batch, tokens, width] activations (exported as MatMul,
which dynamic int8 quantizes; a Gemm would not be) so the weights dominate the file; a tiny
HF BERT with eager attention is the transformer the fusions are tested on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from engine.data.bundle import DataBundle, TokenDataset
from engine.methods.base import ArtifactContext

VOCAB, WIDTH, CLASSES, SEQ = 64, 256, 4, 12


class TextNet(nn.Module):
    def __init__(self, ids_only: bool = False) -> None:
        super().__init__()
        self.ids_only = ids_only
        self.emb = nn.Embedding(VOCAB, WIDTH)
        self.body = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(3))
        self.head = nn.Linear(WIDTH, CLASSES)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        x = self.emb(input_ids)
        for layer in self.body:
            x = torch.relu(layer(x))
        if attention_mask is None:
            return self.head(x.mean(1))
        w = attention_mask[..., None].to(x.dtype)
        return self.head((x * w).sum(1) / w.sum(1).clamp(min=1.0))


def _export(model: nn.Module, path: Path, names: list[str]) -> Path:
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (2, SEQ))
    args = (ids,) if len(names) == 1 else (ids, torch.ones_like(ids))
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    torch.onnx.export(
        model.eval(), args, str(path), dynamo=False, input_names=names,
        output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17,
    )  # fmt: skip
    return path


def export_textnet(path: Path, ids_only: bool = False) -> Path:
    torch.manual_seed(0)
    names = ["input_ids"] if ids_only else ["input_ids", "attention_mask"]
    return _export(TextNet(ids_only), path, names)


def export_tiny_bert(path: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=64, num_labels=CLASSES,
        attn_implementation="eager",
    )  # fmt: skip
    return _export(BertForSequenceClassification(cfg), path, ["input_ids", "attention_mask"])


def bundle(n_train: int = 40, n_val: int = 10) -> DataBundle:
    """Train and val rows that are all different: row i starts with token i (i < 64)."""
    n = n_train + n_val
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=g)
    ids[:, 0] = torch.arange(n) % VOCAB
    ids[:, 1] = torch.arange(n) // VOCAB
    mask = torch.ones_like(ids)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    full = TokenDataset(ids, mask, labels)
    train, val = full.subset(torch.arange(n_train)), full.subset(torch.arange(n_train, n))
    return DataBundle("classification", train, val, num_labels=CLASSES)


def ort_accuracy(path: Path, data: DataBundle) -> dict[str, float]:
    """Accuracy of an ONNX file over the validation split, run in onnxruntime."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    feeds = {"input_ids": data.val.input_ids.numpy(), "attention_mask": data.val.attention_mask.numpy()}
    logits = sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]
    return {"accuracy": float((logits.argmax(-1) == data.val.labels.numpy()).mean())}


def context(onnx_path: Path, out_dir: Path, data: DataBundle | None = None, **kw) -> ArtifactContext:
    names = [i.name for i in ort.InferenceSession(str(onnx_path)).get_inputs()]
    example = {"input_ids": np.zeros((1, SEQ), np.int64), "attention_mask": np.ones((1, SEQ), np.int64)}
    kw.setdefault("log", lambda message: None)
    return ArtifactContext(
        onnx_path=onnx_path, out_dir=out_dir, task="classification", input_names=names,
        data=data, example_feeds={k: v for k, v in example.items() if k in names}, **kw,
    )  # fmt: skip


def run_logits(path: Path, data: DataBundle) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    feeds = {"input_ids": data.val.input_ids.numpy(), "attention_mask": data.val.attention_mask.numpy()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]
