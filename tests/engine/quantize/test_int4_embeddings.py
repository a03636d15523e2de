"""int8_dynamic with `embeddings: int4`: the MatMuls int8, the embedding table in 4-bit blocks
(GatherBlockQuantized), one valid file close to fp32; Gather in op_types too is refused."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.export.runtime import check_model
from engine.methods.quantize.int8_config import DynamicInt8Config
from engine.methods.quantize.ort_int8 import describe_dynamic, quantize_int8_dynamic
from tests.engine.quantize.int8_models import bundle, context, export_textnet, run_logits


@pytest.fixture(scope="module")
def textnet(tmp_path_factory):
    return export_textnet(tmp_path_factory.mktemp("fp32") / "model.onnx")


def _table_bytes(path, op: str) -> int:
    """Bytes of the initializers feeding `op` nodes' first input (the embedding table)."""
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    names = {n.input[0] for n in model.graph.node if n.op_type == op}
    return sum(len(inits[n].raw_data) for n in names if n in inits)


def test_int4_tables_with_int8_matmuls(textnet, tmp_path):
    data = bundle()
    int8 = quantize_int8_dynamic(DynamicInt8Config(per_channel=True),
                                 context(textnet, tmp_path / "a", data))  # fmt: skip
    cfg = DynamicInt8Config(per_channel=True, embeddings="int4")
    both = quantize_int8_dynamic(cfg, context(textnet, tmp_path / "b", data))
    ops = [n.op_type for n in onnx.load(str(both.path)).graph.node]
    assert "GatherBlockQuantized" in ops and "Gather" not in ops
    assert "MatMulInteger" in ops  # the Linears stay int8
    assert check_model(both.path) == (True, "")
    # the table: half the bytes of int8's (4 bits a weight, plus a scale and zero point per 64)
    int4_table = _table_bytes(both.path, "GatherBlockQuantized")
    assert 0 < int4_table <= 0.55 * _table_bytes(int8.path, "Gather")
    fp32, out = run_logits(textnet, data), run_logits(both.path, data)
    assert np.abs(fp32 - out).max() < 0.1 * np.abs(fp32).max()
    assert any("4-bit blocks of 64" in note for note in both.notes)
    assert both.summary["settings"]["embeddings"] == "int4"
    assert describe_dynamic(cfg).endswith("int4 embeddings)")


def test_gather_in_op_types_with_int4_tables_is_refused():
    problems = DynamicInt8Config(op_types=("MatMul", "Gather"), embeddings="int4").extra_checks()
    assert [field for field, _ in problems] == ["op_types"]
    assert "embeddings: int8" in problems[0][1]
    assert DynamicInt8Config(op_types=("MatMul",), embeddings="int4").extra_checks() == []


@pytest.mark.parametrize("fmt", ["qdq", "qoperator"])
def test_static_int8_takes_int4_tables_too(textnet, tmp_path, fmt):
    from engine.methods.quantize.int8_config import StaticInt8Config
    from engine.methods.quantize.ort_int8 import describe_static, quantize_int8_static

    data = bundle(n_train=16, n_val=8)
    cfg = StaticInt8Config(quant_format=fmt, calibration_samples=8, embeddings="int4")
    result = quantize_int8_static(cfg, context(textnet, tmp_path, data))
    ops = [n.op_type for n in onnx.load(str(result.path)).graph.node]
    assert "GatherBlockQuantized" in ops and "Gather" not in ops
    assert ("QuantizeLinear" if fmt == "qdq" else "QLinearMatMul") in ops  # the rest is int8
    fp32, out = run_logits(textnet, data), run_logits(result.path, data)
    assert np.abs(fp32 - out).max() < 0.15 * np.abs(fp32).max()
    assert describe_static(cfg).endswith("int4 embeddings")
    problems = StaticInt8Config(op_types=("Gather",), embeddings="int4").extra_checks()
    assert [f for f, _ in problems] == ["op_types"]
