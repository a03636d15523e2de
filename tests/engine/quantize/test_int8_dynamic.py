"""int8_dynamic on an exported file: a valid, small, runnable artifact; exclusions by layer or
node name; a pattern matching nothing is one clear error before any file is written."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.config_fields import ConfigError
from engine.export.runtime import check_model
from engine.methods.quantize.int8_config import DynamicInt8Config
from engine.methods.quantize.ort_int8 import check_int8, quantize_int8_dynamic
from tests.engine.quantize.int8_models import (
    TextNet,
    bundle,
    context,
    export_textnet,
    run_logits,
)


@pytest.fixture(scope="module")
def textnet(tmp_path_factory):
    return export_textnet(tmp_path_factory.mktemp("fp32") / "model.onnx")


def _ops(path) -> dict[str, str]:
    return {n.name: n.op_type for n in onnx.load(str(path)).graph.node}


def test_dynamic_int8_is_valid_small_and_close_to_fp32(textnet, tmp_path):
    data = bundle()
    result = quantize_int8_dynamic(DynamicInt8Config(per_channel=True), context(textnet, tmp_path, data))
    assert result.kind == "onnx-int8-dynamic"
    assert result.path == tmp_path / "model.int8-dynamic.onnx"
    assert check_model(result.path) == (True, "")
    # three 256x256 Linears dominate the file: int8 weights are a quarter of fp32
    assert result.path.stat().st_size <= 0.30 * textnet.stat().st_size
    fp32, int8 = run_logits(textnet, data), run_logits(result.path, data)
    assert np.abs(fp32 - int8).max() < 0.05 * np.abs(fp32).max()
    assert "MatMulInteger" in _ops(result.path).values()
    errors = result.summary["node_errors"]
    assert {e["layer"] for e in errors} >= {"body.0", "body.1", "body.2"}
    assert result.summary["excluded_nodes"] == []
    assert result.summary["settings"]["per_channel"] is True
    assert not list(tmp_path.glob(".int8-*")), "intermediate files are removed"


def test_exclude_by_layer_name_keeps_that_matmul_in_fp32(textnet, tmp_path):
    cfg = DynamicInt8Config(exclude_nodes=("body.1",))
    result = quantize_int8_dynamic(cfg, context(textnet, tmp_path, bundle()))
    ops = _ops(result.path)
    assert ops["/body.1/MatMul"] == "MatMul"  # still float
    assert "/body.0/MatMul_quant" in ops and "/body.1/MatMul_quant" not in ops
    excluded = result.summary["excluded_nodes"]  # every node of the layer (MatMul, bias Add)
    assert "/body.1/MatMul" in excluded and all(n.startswith("/body.1/") for n in excluded)
    assert "body.1" not in {e["layer"] for e in result.summary["node_errors"]}


def test_exclude_by_regex_on_node_names(textnet, tmp_path):
    cfg = DynamicInt8Config(exclude_nodes=(r"re:/body\.[02]/MatMul",), optimize="none")
    result = quantize_int8_dynamic(cfg, context(textnet, tmp_path))
    assert result.summary["excluded_nodes"] == ["/body.0/MatMul", "/body.2/MatMul"]
    assert result.summary["optimized"] is False


def test_pattern_matching_nothing_is_one_clear_error_before_any_file(textnet, tmp_path):
    cfg = DynamicInt8Config(exclude_nodes=("body.*", "decoder.*"))
    with pytest.raises(ConfigError) as err:
        quantize_int8_dynamic(cfg, context(textnet, tmp_path, step=2))
    text = str(err.value)
    assert text.startswith("Step 2 · methods[1].exclude_nodes: 'decoder.*' matches no node")
    assert "/body.0/MatMul (layer body.0)" in text and "\n" not in text
    assert list(tmp_path.iterdir()) == []
    # before export, layer patterns are checked against the PyTorch model
    assert check_int8(DynamicInt8Config(exclude_nodes=("body.*", "/x/MatMul")), TextNet()) == []
    (problem,) = check_int8(cfg, TextNet())
    assert "'decoder.*' matches no layer" in problem and "emb, body" in problem


def test_a_later_step_or_a_taken_name_gets_its_own_file(textnet, tmp_path):
    first = quantize_int8_dynamic(DynamicInt8Config(), context(textnet, tmp_path))
    again = quantize_int8_dynamic(DynamicInt8Config(), context(textnet, tmp_path))
    later = quantize_int8_dynamic(DynamicInt8Config(), context(textnet, tmp_path, step=3))
    assert len({first.path, again.path, later.path}) == 3
    assert later.path.name == "model.int8-dynamic.step3.onnx"
    assert all(check_model(p)[0] for p in (first.path, again.path, later.path))


def test_ids_only_model_gets_ids_only_feeds(tmp_path):
    src = export_textnet(tmp_path / "ids.onnx", ids_only=True)
    actx = context(src, tmp_path / "out", bundle())
    assert actx.input_names == ["input_ids"]
    result = quantize_int8_dynamic(DynamicInt8Config(), actx)
    assert result.summary["node_errors"], "node errors were measured on ids-only feeds"
    assert check_model(result.path)[0]
