"""bench/quantize_smooth.py: activation smoothing keeps fp32 outputs and cuts int8 error.

LayerNorm -> Linear -> GELU -> Linear, where the LayerNorm gives two channels a 40x gain and
the first Linear reads those channels with 40x smaller weights (the fp32 function is
ordinary): MiniLM's outlier channels in small. Per-tensor dynamic int8 of the Linear's input
then rounds the other channels coarsely; smoothing moves the range into the weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import quantize_dynamic
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from quantize_smooth import smooth_activations  # noqa: E402

WIDTH, OUTLIERS = 64, [3, 17]


def _export(path: Path) -> Path:
    torch.manual_seed(0)
    model = nn.Sequential(nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 128), nn.GELU(),
                          nn.Linear(128, WIDTH)).eval()  # fmt: skip
    with torch.no_grad():
        model[0].weight[OUTLIERS] = 40.0
        model[1].weight[:, OUTLIERS] /= 40.0
    x = torch.randn(4, 12, WIDTH)
    torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "batch", 1: "seq"}})  # fmt: skip
    return path


def _feeds(seed: int) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((4, 12, WIDTH)).astype(np.float32)}


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def test_smoothing_keeps_fp32_and_cuts_int8_error(tmp_path: Path) -> None:
    fp32 = _export(tmp_path / "net.onnx")
    smoothed = tmp_path / "smoothed.onnx"
    # the LayerNorm output (first Linear) and the GELU output (second Linear)
    assert smooth_activations(fp32, smoothed, [_feeds(s) for s in range(4)], alpha=0.7) == 2
    assert sum(n.op_type == "Mul" and n.name.endswith("_smooth")
               for n in onnx.load(str(smoothed)).graph.node) == 2  # fmt: skip
    test = _feeds(99)
    ref = _run(fp32, test)
    np.testing.assert_allclose(_run(smoothed, test), ref, rtol=1e-4, atol=1e-4)

    quantize_dynamic(str(fp32), str(tmp_path / "plain.int8.onnx"), per_channel=True)
    quantize_dynamic(str(smoothed), str(tmp_path / "smooth.int8.onnx"), per_channel=True)
    plain_err = np.abs(_run(tmp_path / "plain.int8.onnx", test) - ref).mean()
    smooth_err = np.abs(_run(tmp_path / "smooth.int8.onnx", test) - ref).mean()
    assert smooth_err < 0.5 * plain_err, (plain_err, smooth_err)
