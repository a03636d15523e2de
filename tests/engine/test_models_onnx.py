"""The built-in tiny models export to ONNX with dynamic batch/sequence and match onnxruntime."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine.models import load_model
from engine.recipe import ModelSpec


@pytest.mark.parametrize("name, dynamo", [("tiny-gpt", True), ("tiny-bert", False)])
def test_tiny_model_exports_and_matches_onnxruntime(tmp_path, name, dynamo):
    m = load_model(ModelSpec(path=name))
    ids, mask = m.example_inputs(batch=2, seq=16)
    path = tmp_path / f"{name}.onnx"
    names = ["input_ids", "attention_mask"]
    if dynamo:
        seq = torch.export.Dim("seq", max=m.max_positions)
        dims = {0: torch.export.Dim("batch"), 1: seq}
        kwargs = {"dynamic_shapes": (dims, dims), "dynamo": True, "verbose": False}
    else:
        axes = {0: "batch", 1: "seq"}
        kwargs = {"dynamic_axes": {"input_ids": axes, "attention_mask": axes}, "dynamo": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            m.module,
            (ids, mask),
            str(path),
            input_names=names,
            output_names=["logits"],
            opset_version=18,
            **kwargs,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids, mask = m.example_inputs(batch=3, seq=20)  # other sizes than at export
    mask[1, 12:] = 0
    (out,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        ref = m.module(ids, mask).numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)
