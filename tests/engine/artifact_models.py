"""Real tiny ONNX files for the artifact tests: fp32 exports and onnxruntime-quantized copies.

Built once per test process (TorchScript exporter: under a second each) into a temp folder.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.data import load_data
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec

DATA = {"tiny-gpt": "shakespeare", "tiny-bert": "bbc-news"}


@functools.cache
def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="artifact-tests-"))


class IdsOnly(nn.Module):
    """A model whose graph takes input_ids alone (the mask is ignored)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        return self.inner(input_ids, torch.ones_like(input_ids))


class SmallMLP(nn.Module):
    """Matmuls far too small for int8 to pay: 16 x 16 weights."""

    def __init__(self, hidden: int = 16, layers: int = 8):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(50, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, 4)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        x = self.emb(input_ids)
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x.mean(1))


def export(module: nn.Module, names: tuple[str, ...], path: Path) -> Path:
    example = tuple(torch.randint(0, 50, (2, 8)) if n == "input_ids" else torch.ones(2, 8, dtype=torch.long)
                    for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), example, str(path), input_names=list(names), output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in names}, opset_version=17, dynamo=False,
        )  # fmt: skip
    return path


@functools.cache
def tiny(name: str):
    """(loaded, data, fp32 path) for the builtin tiny-gpt / tiny-bert."""
    loaded = load_model(ModelSpec(source="builtin", path=name))
    data = load_data(DataSpec(source="builtin", path=DATA[name], max_length=32, max_samples=64), loaded)
    path = export(loaded.module, tuple(loaded.input_names), folder() / f"{name}.onnx")
    return loaded, data, path


@functools.cache
def int8_dynamic(src: Path) -> Path:
    from onnxruntime.quantization import quantize_dynamic

    out = src.with_name(src.stem + ".int8.onnx")
    quantize_dynamic(str(src), str(out))
    return out


@functools.cache
def int8_static_qdq(name: str) -> Path:
    """Static QDQ int8 calibrated on a few training samples."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    _, data, src = tiny(name)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input_ids": data.train.input_ids[i : i + 2].numpy(),
                                "attention_mask": data.train.attention_mask[i : i + 2].numpy()}
                               for i in range(0, 8, 2)])

        def get_next(self):
            return next(self.items, None)

    out = src.with_name(src.stem + ".qdq.onnx")
    quantize_static(str(src), str(out), Reader(), quant_format=QuantFormat.QDQ)
    return out


@functools.cache
def fp16(src: Path) -> Path:
    import onnx
    from onnxconverter_common import float16

    out = src.with_name(src.stem + ".fp16.onnx")
    with warnings.catch_warnings():  # "number truncated to 1e-07" per tiny weight
        warnings.simplefilter("ignore")
        half = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(half, str(out))
    return out


@functools.cache
def small_mlp() -> Path:
    return export(SmallMLP(), ("input_ids",), folder() / "small-mlp.onnx")


def copy_of(src: Path, name: str) -> Path:
    out = folder() / name
    shutil.copyfile(src, out)
    return out


def feeds(batch: int = 1, seq: int = 16, vocab: int = 50, mask: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {"input_ids": rng.integers(0, vocab, (batch, seq)).astype(np.int64)}
    if mask:
        out["attention_mask"] = np.ones((batch, seq), np.int64)
    return out


@functools.cache
def fused_int8(name: str = "tiny-bert") -> tuple[Path, dict[str, int]]:
    """ORT's transformer optimizer, then dynamic int8: (file, the optimizer's fused op counts)."""
    import onnx
    from onnxruntime.quantization import quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    loaded, _, src = tiny(name)
    heads, hidden = loaded.module.blocks[0].attn.n_head, loaded.module.tok_emb.embedding_dim
    opt = optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden)
    fused = opt.get_fused_operator_statistics()
    mid = src.with_name(src.stem + ".opt.onnx")
    opt.save_model_to_file(str(mid))
    out = src.with_name(src.stem + ".opt.int8.onnx")
    # the optimizer's com.microsoft ops hide tensor types from the quantizer's shape inference
    quantize_dynamic(str(mid), str(out), extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return out, fused


@functools.cache
def int4(name: str = "tiny-gpt", accuracy_level: int = 0) -> Path:
    """Weight-only int4 MatMuls (MatMulNBits, RTN, block 32)."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    _, _, src = tiny(name)
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    q = MatMulNBitsQuantizer(onnx.load(str(src)), block_size=32, is_symmetric=True,
                             accuracy_level=accuracy_level)
    q.process()
    out = src.with_name(f"{src.stem}.int4-{accuracy_level}.onnx")
    q.model.save_model_to_file(str(out))
    return out
