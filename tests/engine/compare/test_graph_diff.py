"""ONNX graph diff: exact operator counts and node changes on a constructed pair, the second
file made by onnxruntime's own dynamic int8 quantizer."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.compare.graph_diff import graph_diff

LAYERS = 3


def two_matmul_blocks(path) -> None:
    """LAYERS blocks of MatMul -> Add -> Relu, 16 wide (onnx.helper, opset 17)."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(LAYERS):
        inits += [numpy_helper.from_array(rng.standard_normal((16, 16)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(np.zeros(16, np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"mm{i}"),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"add{i}"),
                  helper.make_node("Relu", [f"a{i}"], [f"r{i}"], name=f"relu{i}")]
        x = f"r{i}"
    graph = helper.make_graph(
        nodes, "blocks", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 16])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    d = tmp_path_factory.mktemp("g")
    fp32, int8 = d / "fp32.onnx", d / "int8.onnx"
    two_matmul_blocks(fp32)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def test_int8_dynamic_op_counts_exact(pair):
    fp32, int8 = pair
    d = graph_diff(fp32, int8)
    assert d.ops_a == {"MatMul": LAYERS, "Add": LAYERS, "Relu": LAYERS}
    # onnxruntime's own count, read independently of the diff
    q = [n.op_type for n in onnx.load(str(int8)).graph.node]
    assert d.ops_b == {op: q.count(op) for op in set(q)}
    # each MatMul: its input quantized on the fly, an integer MatMul, the int32 result cast
    # back and scaled (two Muls: the scales' product, then the output)
    assert d.ops_b == {"DynamicQuantizeLinear": LAYERS, "MatMulInteger": LAYERS, "Cast": LAYERS,
                       "Mul": 2 * LAYERS, "Add": LAYERS, "Relu": LAYERS}
    assert d.op_delta["MatMul"] == -LAYERS and d.op_delta["MatMulInteger"] == LAYERS
    assert "Add" not in d.op_delta and "Relu" not in d.op_delta
    assert d.summary() == "3 MatMul → 6 Mul + 3 Cast + 3 DynamicQuantizeLinear + 3 MatMulInteger"
    # every MatMul is gone, every quantizer node is new; Add / Relu are untouched
    assert sorted(n.name for n in d.removed) == [f"mm{i}" for i in range(LAYERS)]
    assert len(d.added) == len(q) - 2 * LAYERS and d.changed == []


def test_same_name_other_op_or_attribute_is_changed_and_renames_match(tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    two_matmul_blocks(a)
    m = onnx.load(str(a))
    m.graph.node[2].op_type = "LeakyRelu"  # relu0: same name, other op
    m.graph.node[2].attribute.append(helper.make_attribute("alpha", 0.1))
    m.graph.node[4].name = "renamed_add1"  # same op and inputs: the same node
    onnx.save(m, str(b))
    d = graph_diff(a, b)
    assert [(c.name, c.op_a, c.op_b, c.attributes) for c in d.changed] == [
        ("relu0", "Relu", "LeakyRelu", ("alpha",))]
    assert d.added == [] and d.removed == []
    assert d.op_delta == {"LeakyRelu": 1, "Relu": -1}
    with pytest.raises(ValueError, match="no such ONNX file"):
        graph_diff(a, tmp_path / "missing.onnx")
