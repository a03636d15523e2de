"""Tiny models exported with the project's exporter, for the artifact-method tests.

The TorchScript exporter is used because it writes a tiny model in under a second (the
dynamo exporter takes tens of seconds on a busy CPU); both name their nodes after layers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from engine.data.bundle import DataBundle, TokenDataset
from engine.export.onnx_export import export_onnx_detailed
from engine.methods.base import ArtifactContext

TEXT_INPUTS = ["input_ids", "attention_mask"]


def text_batch(batch: int, seq: int, vocab: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    return ids, torch.ones_like(ids)


def export_text(module: nn.Module, path: Path, vocab: int, external: bool = False) -> Path:
    """Export a forward(input_ids, attention_mask) -> logits module; the file's path."""
    module.eval()
    export_onnx_detailed(module, text_batch(2, 8, vocab), TEXT_INPUTS, path,
                         exporter="torchscript", external_data=external)
    return path


def tiny_gpt(pretrained: bool = True) -> nn.Module:
    """The built-in tiny-gpt (vocab 258, d_model 128, 4 blocks), with its shipped weights."""
    from engine.models.builtin import build_tiny_module, pretrained_tiny_module

    return pretrained_tiny_module("tiny-gpt")[0] if pretrained else build_tiny_module("tiny-gpt")


def tiny_llama(vocab: int = 256) -> nn.Module:
    """A random-weight Llama: 2 layers, hidden 64, grouped-query attention."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.models.hf import HFLogitsWrapper

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        use_cache=False,
    )  # fmt: skip
    return HFLogitsWrapper(LlamaForCausalLM(cfg))


def token_data(vocab: int, n_train: int = 24, n_val: int = 8, seq: int = 16) -> DataBundle:
    """A causal-LM bundle of random tokens."""
    ids = torch.randint(0, vocab, (n_train + n_val, seq), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    train = TokenDataset(ids[:n_train], mask[:n_train], ids[:n_train])
    val = TokenDataset(ids[n_train:], mask[n_train:], ids[n_train:])
    return DataBundle("causal-lm", train, val)


def shakespeare(samples: int = 48, block: int = 32) -> DataBundle:
    """Real text for tiny-gpt (byte tokens) from the first built-in play: a pretrained LM's
    top-1 agreement means something on it, unlike on random tokens."""
    from engine.data.builtin import shakespeare_documents
    from engine.data.lm import encode_documents, lm_bundle
    from engine.models.byte_tokenizer import ByteTokenizer

    tok = ByteTokenizer()
    tokens = encode_documents(tok, shakespeare_documents()[:1])
    return lm_bundle(tokens, tok, block, 0.25, samples, 0, "shakespeare")


def context(onnx_path: Path, out_dir: Path, data: DataBundle | None = None, **kw) -> ArtifactContext:
    return ArtifactContext(onnx_path=onnx_path, out_dir=out_dir, task="causal-lm",
                           input_names=list(TEXT_INPUTS), data=data, **kw)


def logits(path: Path, ids: torch.Tensor) -> np.ndarray:
    """The file's logits in onnxruntime (CPU) for a batch of token ids."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feeds = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy())}
    return np.asarray(session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0])


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, correlation) of two logit arrays."""
    top1 = float((a.argmax(-1) == b.argmax(-1)).mean())
    return top1, float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
