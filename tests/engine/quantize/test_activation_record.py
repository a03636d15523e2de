"""Activation ranges recorded beside an int8 file: every calibration value counted once, and
the lines drawn are the range the file stores (static) or each batch's own (dynamic)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from engine.methods.quantize.activation_hist import activation_histogram
from engine.methods.quantize.activation_record import SUFFIX, record_activation_ranges
from engine.methods.quantize.calibration import calibration_batches, draw_indices, graph_input_types
from engine.methods.quantize.int8_config import DynamicInt8Config, StaticInt8Config
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic, quantize_int8_static
from tests.engine.quantize.int8_models import SEQ, WIDTH, bundle, context, export_textnet

SAMPLES = 13


@pytest.fixture(scope="module")
def textnet(tmp_path_factory):
    return export_textnet(tmp_path_factory.mktemp("fp32") / "model.onnx")


@pytest.fixture(scope="module")
def static(textnet, tmp_path_factory):
    """(result, record, calibration batches) of a QDQ MinMax run on 13 samples."""
    data = bundle()
    cfg = StaticInt8Config(calibration_samples=SAMPLES, calibration_seed=3, optimize="basic")
    result = quantize_int8_static(cfg, context(textnet, tmp_path_factory.mktemp("static"), data))
    record = json.loads((result.path.parent / result.summary["activation_ranges"]).read_text())
    batches = calibration_batches(data.train, draw_indices(len(data.train), SAMPLES, 3),
                                  graph_input_types(textnet))  # fmt: skip
    return result, record, batches


def _file_ranges(path) -> dict[str, tuple[float, float]]:
    """{tensor: (low, high)} from the QDQ file's QuantizeLinear scale / zero point, read here."""
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in inits:
            scale, zp = float(inits[node.input[1]]), inits[node.input[2]]
            info = np.iinfo(zp.dtype)
            out[node.input[0]] = ((info.min - int(zp)) * scale, (info.max - int(zp)) * scale)
    return out


def test_the_summary_names_a_file_beside_the_artifact(static):
    result, record, _ = static
    assert result.summary["activation_ranges"] == result.path.stem + SUFFIX
    assert record["samples"] == SAMPLES == result.summary["calibration"]["samples_fed"]
    assert record["calibration_method"] == "minmax" and not record["dynamic"]
    # worst node first (of those with a float input: a Gather's is token ids): the view's default
    fed = {n for t in record["tensors"] for n in t["nodes"]}
    worst = next(e["node"] for e in result.summary["node_errors"] if e["node"] in fed)
    assert worst in record["tensors"][0]["nodes"]
    assert record["tensors"][0]["nodes"] != [result.summary["node_errors"][-1]["node"]]


def test_counts_sum_to_every_calibration_value(static, textnet):
    _, record, batches = static
    per_sample = {"/Div_output_0": WIDTH}  # the pooled input of the head; the rest [seq, width]
    assert {t["tensor"] for t in record["tensors"]} >= {"/Relu_output_0", "/Div_output_0"}
    for t in record["tensors"]:
        assert len(t["counts"]) == record["bins"] == 128
        assert sum(t["counts"]) == t["count"] == SAMPLES * per_sample.get(t["tensor"], SEQ * WIDTH)
        # the extremes are those of the values themselves, read independently
        h = activation_histogram(textnet, t["tensor"], batches, bins=8)
        assert (t["data_min"], t["data_max"]) == pytest.approx((h["min"], h["max"]))


def test_range_lines_are_the_files_scale_and_zero_point(static):
    result, record, _ = static
    stored = _file_ranges(result.path)
    for t in record["tensors"]:
        assert (t["low"], t["high"]) == pytest.approx(stored[t["tensor"]], rel=1e-6)
        # MinMax: the stored range covers every calibration value to within one step
        assert t["low"] <= t["data_min"] + t["scale"] and t["high"] >= t["data_max"] - t["scale"]
        assert t["edges"][0] <= min(t["low"], t["data_min"]) and t["edges"][1] >= t["high"]


def test_the_cut_is_what_the_percentile_calibrator_stores(textnet, tmp_path):
    # 16: onnxruntime's histogram calibrators fail on a last batch smaller than the others
    cfg = StaticInt8Config(calibration_method="percentile", percentile=99.99, calibration_samples=16,
                           calibration_seed=3, optimize="basic")  # fmt: skip
    result = quantize_int8_static(cfg, context(textnet, tmp_path, bundle()))
    record = json.loads((result.path.parent / result.summary["activation_ranges"]).read_text())
    # the embedding lookup's output keeps the int8 table's own range: no calibrator chose it
    calibrated = [t for t in record["tensors"] if t["tensor"] != "/emb/Gather_output_0"]
    assert len(calibrated) >= 3
    for t in calibrated:
        # same values, same 99.99 % cut: the file's range is the cut (to a step of rounding)
        assert t["low"] == pytest.approx(t["cut_low"], abs=1.5 * t["scale"])
        assert t["high"] == pytest.approx(t["cut_high"], abs=1.5 * t["scale"])


def test_dynamic_records_each_batchs_own_range(textnet, tmp_path):
    result = quantize_int8_dynamic(DynamicInt8Config(), context(textnet, tmp_path, bundle()))
    record = json.loads((result.path.parent / result.summary["activation_ranges"]).read_text())
    assert record["dynamic"] and record["calibration_method"] is None
    relu = next(t for t in record["tensors"] if t["tensor"] == "/Relu_output_0")
    assert relu["dynamic"] and relu["scale"] is None and len(relu["batch_ranges"]) == record["batches"]
    assert (relu["low"], relu["high"]) == (0.0, max(hi for _, hi in relu["batch_ranges"]))
    assert sum(relu["counts"]) == record["samples"] * SEQ * WIDTH


def test_a_failure_is_logged_and_the_summary_left_alone(textnet, tmp_path):
    logs: list[str] = []
    summary: dict = {"node_errors": []}
    actx = context(textnet, tmp_path, None, log=logs.append)
    record_activation_ranges(DynamicInt8Config(), summary, textnet, tmp_path / "missing.onnx", actx,
                             lambda graph: [{"input_ids": np.zeros((1, SEQ), np.int64)}])  # fmt: skip
    assert "activation_ranges" not in summary
    assert len(logs) == 1 and logs[0].startswith("activation ranges: not recorded (")
