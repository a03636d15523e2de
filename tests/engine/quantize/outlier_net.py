"""A tiny Conv + MatMul + Gemm classifier exported to ONNX, quantized by onnxruntime.

`outlier=True` gives input channel 0 a huge constant the model ignores (its conv weights
are zero): fp32 is unaffected, but int8 quantizes the conv's input per tensor, so the range
that channel forces rounds every real channel to zero. Keeping that one conv in fp32
repairs the model; keeping any other node does not.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    quantize_dynamic,
    quantize_static,
)
from torch import nn

CHANNELS, WIDTH, CLASSES = 8, 16, 4
OUTLIER = 3000.0


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(CHANNELS, CHANNELS, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(WIDTH, 32), nn.Linear(32, 32)
        self.head = nn.Linear(32, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # tanh, zero biases: zero-mean features, so the predicted class varies with the input
        h = self.fc2(torch.tanh(self.fc1(self.conv(x))))
        return self.head(h.mean(1))  # 2-D input: exported as Gemm


def export(path: Path, outlier: bool = False, seed: int = 0) -> Path:
    """The net (TorchScript exporter: well under a second) with a dynamic batch axis."""
    torch.manual_seed(seed)
    net = Net().eval()
    with torch.no_grad():
        for layer in (net.conv, net.fc1, net.fc2, net.head):
            layer.bias.zero_()
        net.head.weight.mul_(20.0)  # confident logits: perplexity tells right from wrong
        if outlier:
            net.conv.weight[:, 0, :] = 0.0  # channel 0 carries no information
    torch.onnx.export(
        net,
        (torch.randn(2, CHANNELS, WIDTH),),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
    )
    return path


def feeds(n_batches: int = 3, batch: int = 16, outlier: bool = False, seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = rng.standard_normal((batch, CHANNELS, WIDTH)).astype(np.float32)
        if outlier:
            x[:, 0, :] = OUTLIER
        out.append({"x": x})
    return out


class Reader(CalibrationDataReader):
    def __init__(self, batches: list) -> None:
        self.it = iter(batches)

    def get_next(self) -> dict | None:
        return next(self.it, None)


def quantize(src: Path, dst: Path, how: str, batches: list, **kw) -> Path:
    """how: dynamic | qdq | qoperator, with onnxruntime's own quantizers."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" on every call
    try:  # put it back: a process-wide ERROR level would hide later tests' warnings
        if how == "dynamic":
            quantize_dynamic(str(src), str(dst), **kw)
        else:
            fmt = QuantFormat.QDQ if how == "qdq" else QuantFormat.QOperator
            quantize_static(str(src), str(dst), Reader(batches), quant_format=fmt, **kw)
    finally:
        root.setLevel(level)
    return dst


def logits(path: Path, batches: list) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, b)[0] for b in batches])
