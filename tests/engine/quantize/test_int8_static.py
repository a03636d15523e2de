"""int8_static: calibration reads exactly the requested training samples (never val), every
format/method gives a valid runnable file, and a recipe without data is refused up front."""

from __future__ import annotations

import onnx
import pytest

from engine.config_fields import ConfigError
from engine.export.runtime import check_model
from engine.methods.quantize.calibration import calibration_reader
from engine.methods.quantize.int8_config import (
    DynamicInt8Config,
    StaticInt8Config,
    recipe_problems,
)
from engine.methods.quantize.ort_int8 import quantize_int8_static
from tests.engine.quantize.int8_models import bundle, context, export_textnet, run_logits


@pytest.fixture(scope="module")
def textnet(tmp_path_factory):
    return export_textnet(tmp_path_factory.mktemp("fp32") / "model.onnx")


def _rows(dataset, index=None) -> set[tuple[int, ...]]:
    ids = dataset.input_ids if index is None else dataset.input_ids[index]
    return {tuple(r.tolist()) for r in ids}


def test_calibration_feeds_exactly_n_train_samples_disjoint_from_val(textnet, tmp_path):
    data = bundle(n_train=40, n_val=10)
    cfg = StaticInt8Config(calibration_samples=13, calibration_seed=3)
    result = quantize_int8_static(cfg, context(textnet, tmp_path, data))
    calib = result.summary["calibration"]
    # samples_fed counts what onnxruntime actually read from the reader
    assert calib["samples_fed"] == 13 and calib["requested"] == 13
    assert calib["split"] == "train" and len(set(calib["train_indices"])) == 13
    drawn = _rows(data.train, calib["train_indices"])
    assert len(drawn) == 13 and not drawn & _rows(data.val)
    # another seed draws other samples; the same seed the same ones
    reader, again = calibration_reader(data, textnet, 13, 3)
    assert [int(i) for i in again] == calib["train_indices"]
    assert [int(i) for i in calibration_reader(data, textnet, 13, 4)[1]] != calib["train_indices"]
    while reader.get_next() is not None:
        pass
    assert reader.samples_fed == 13


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_calibrators_take_a_count_that_is_no_multiple_of_the_batch(textnet, tmp_path, method):
    # onnxruntime's histogram collector stacks every batch's outputs: a short last batch
    # (13 = 8 + 5) failed inside numpy; the batches are now all one size
    cfg = StaticInt8Config(calibration_method=method, calibration_samples=13)
    result = quantize_int8_static(cfg, context(textnet, tmp_path, bundle(n_train=40, n_val=10)))
    assert result.summary["calibration"]["samples_fed"] == 13
    assert check_model(result.path) == (True, "")


def test_more_samples_than_train_calibrates_on_all_and_says_so(textnet, tmp_path):
    data = bundle(n_train=6, n_val=4)
    result = quantize_int8_static(StaticInt8Config(calibration_samples=50), context(textnet, tmp_path, data))
    assert result.summary["calibration"]["samples_fed"] == 6
    assert any("all 6 training samples" in n for n in result.notes)


@pytest.mark.parametrize(
    "fmt, method, marker",
    [("qdq", "minmax", "DequantizeLinear"), ("qoperator", "entropy", "QLinearMatMul"),
     ("qdq", "percentile", "DequantizeLinear")],
)  # fmt: skip
def test_each_format_and_method_gives_a_valid_small_runnable_file(textnet, tmp_path, fmt, method, marker):
    data = bundle()
    cfg = StaticInt8Config(quant_format=fmt, calibration_method=method, percentile=99.9,
                           calibration_samples=8, per_channel=True)  # fmt: skip
    result = quantize_int8_static(cfg, context(textnet, tmp_path, data))
    assert result.kind == "onnx-int8-static" and result.path.name == "model.int8-static.onnx"
    assert check_model(result.path) == (True, "")
    assert marker in {n.op_type for n in onnx.load(str(result.path)).graph.node}
    assert result.path.stat().st_size <= 0.30 * textnet.stat().st_size
    assert run_logits(result.path, data).shape == (len(data.val), 4)
    assert result.summary["node_errors"], "per-node error measured on calibration batches"
    assert result.summary["calibration"]["percentile"] == (99.9 if method == "percentile" else None)


def test_ids_only_graph_is_fed_ids_only(tmp_path):
    src = export_textnet(tmp_path / "ids.onnx", ids_only=True)
    reader, _ = calibration_reader(bundle(), src, 5, 0)
    assert set(reader.get_next()) == {"input_ids"}
    result = quantize_int8_static(StaticInt8Config(calibration_samples=5), context(src, tmp_path / "o", bundle()))
    assert check_model(result.path)[0] and result.summary["calibration"]["samples_fed"] == 5


def test_static_without_data_is_refused_before_anything_runs(textnet, tmp_path):
    (field, message), = recipe_problems(StaticInt8Config(), has_data=False)
    assert field == "calibration_samples" and "add a data section" in message
    assert recipe_problems(StaticInt8Config(), has_data=True) == []
    assert recipe_problems(DynamicInt8Config(), has_data=False) == []
    assert recipe_problems(DynamicInt8Config(max_drop=0.01), has_data=False)[0][0] == "max_drop"
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"^Step 1 · methods\[0\]\.calibration_samples: static"):
        quantize_int8_static(StaticInt8Config(), context(textnet, out))
    assert not out.exists() or list(out.iterdir()) == []


def test_qoperator_on_causal_attention_gives_a_file(tmp_path):
    # the scores' scaling Mul feeds the causal mask's Where: onnxruntime's QOperator default
    # quantized that Mul and failed the whole file ("unknown initializers/tensors")
    from tests.engine.quantize import tiny_onnx as T

    src = T.export_text(T.tiny_gpt(pretrained=False), tmp_path / "gpt.onnx", 258)
    cfg = StaticInt8Config(quant_format="qoperator", calibration_samples=8)
    result = quantize_int8_static(cfg, T.context(src, tmp_path / "out", T.token_data(258)))
    assert check_model(result.path) == (True, "")
    ops = [n.op_type for n in onnx.load(str(result.path)).graph.node]
    assert "QLinearMatMul" in ops and "QLinearMul" not in ops and "Where" in ops
    ids = T.text_batch(2, 8, 258)[0]
    assert T.logits(result.path, ids).shape == (2, 8, 258)
