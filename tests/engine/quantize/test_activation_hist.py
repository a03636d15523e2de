"""Activation-range view: the histogram and the cuts onnxruntime's calibrators would choose."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

from engine.methods.quantize.activation_hist import activation_histogram, candidate_tensors
from tests.engine.quantize import outlier_net as T

CONV_OUT = "/conv/Conv_output_0"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = tmp_path_factory.mktemp("hist")
    return T.export(d / "fp32.onnx"), T.feeds(), d


def _ort_range(src, feeds, d, method, **extra) -> dict:
    logging.getLogger().setLevel(logging.ERROR)
    cal = create_calibrator(
        str(src),
        ["MatMul", "Gemm", "Conv"],
        augmented_model_path=str(d / f"aug_{method.name}_{len(extra)}.onnx"),
        calibrate_method=method,
        extra_options=extra,
    )
    cal.collect_data(T.Reader(feeds))
    ranges = cal.compute_data().items()  # MinMax gives 1-element arrays
    return {k: tuple(np.asarray(x).reshape(-1)[0].item() for x in v.range_value) for k, v in ranges}


def test_candidates_are_the_activation_inputs_not_weights(net):
    src, _, _ = net
    names = candidate_tensors(src)
    assert names == ["x", CONV_OUT, "/Tanh_output_0", "/ReduceMean_output_0"]
    assert not any(n.endswith("weight") or n.startswith("onnx::") for n in names)


def test_histogram_holds_every_value_and_the_true_extremes(net):
    src, feeds, _ = net
    h = activation_histogram(src, "x", feeds, bins=32)
    values = np.concatenate([f["x"].ravel() for f in feeds])
    assert h["tensor"] == "x" and len(h["counts"]) == 32 and len(h["edges"]) == 33
    assert sum(h["counts"]) == values.size
    assert h["min"] == pytest.approx(values.min()) and h["max"] == pytest.approx(values.max())
    assert h["edges"][0] == pytest.approx(values.min()) and h["edges"][-1] == pytest.approx(values.max())
    assert h["cut_low"] is None and h["cut_high"] is None  # no percentile asked


@pytest.mark.parametrize("symmetric", [None, False])
def test_cuts_are_the_ones_onnxruntime_calibration_picks(net, symmetric):
    src, feeds, d = net
    extra = {} if symmetric is None else {"symmetric": symmetric}
    pct = _ort_range(src, feeds, d, CalibrationMethod.Percentile, percentile=99.0, **extra)
    minmax = _ort_range(src, feeds, d, CalibrationMethod.MinMax, **extra)
    for name in (CONV_OUT, "/Tanh_output_0"):
        h = activation_histogram(src, name, feeds, percentile=99.0, symmetric=symmetric)
        assert (h["cut_low"], h["cut_high"]) == pytest.approx(pct[name], rel=1e-5)
        assert (h["min"], h["max"]) == pytest.approx(minmax[name], rel=1e-5)
        assert h["min"] < h["cut_low"] < h["cut_high"] < h["max"]  # 1% of values cut


def test_an_outlier_moves_minmax_but_not_the_percentile_cut(net):
    src, feeds, _ = net
    spiked = [{"x": f["x"].copy()} for f in feeds]
    spiked[0]["x"][0, 3, 5] = 50.0  # one value in 6144
    plain = activation_histogram(src, "x", feeds, percentile=99.9)
    h = activation_histogram(src, "x", spiked, percentile=99.9)
    assert h["max"] == pytest.approx(50.0)
    assert h["cut_high"] < 5 and h["cut_high"] == pytest.approx(plain["cut_high"], rel=0.05)


def test_bad_requests_say_what_to_do(net):
    src, feeds, _ = net
    with pytest.raises(ValueError, match=r"tensor_name: 'nope' is not a tensor .*candidate_tensors"):
        activation_histogram(src, "nope", feeds)
    with pytest.raises(ValueError, match=r"percentile: must be in \(0, 100\], got 0"):
        activation_histogram(src, "x", feeds, percentile=0)
    with pytest.raises(ValueError, match="bins: must be 1 or more"):
        activation_histogram(src, "x", feeds, bins=0)
    with pytest.raises(FileNotFoundError, match="ONNX file not found"):
        activation_histogram(src.with_name("missing.onnx"), "x", feeds)
