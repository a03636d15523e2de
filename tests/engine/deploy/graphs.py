"""Tiny ONNX graphs built with onnx.helper (no torch export: each is written in milliseconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def matmul_model(path: Path, hidden: int = 64, tail: str = "Relu", opset: int = 17,
                 domain: str = "") -> Path:
    """x[batch, seq, hidden] -> MatMul(W) -> `tail` -> y; `domain` puts the tail op there."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((hidden, hidden)).astype(np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
             helper.make_node(tail, ["h"], ["y"], name="tail", domain=domain)]
    dims = ["batch", "seq", hidden]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)], [w])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def int8_model(fp32: Path, path: Path) -> Path:
    """The fp32 file with int8 weights (onnxruntime's dynamic quantization)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
    return path
