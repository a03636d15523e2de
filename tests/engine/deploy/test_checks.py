"""check_artifact on tiny graphs in real onnxruntime: each requirement's measurement and reason."""

from __future__ import annotations

import dataclasses

import onnxruntime as ort
import pytest

from engine.deploy.checks import check_artifact
from engine.deploy.targets import TargetProfile, get_target
from tests.engine.deploy.graphs import int8_model, matmul_model


def _by_name(result: dict) -> dict[str, dict]:
    return {r["name"]: r for r in result["requirements"]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("deploy")
    fp32 = matmul_model(d / "fp32.onnx", hidden=256)
    return {"fp32": fp32, "int8": int8_model(fp32, d / "int8.onnx")}


def test_edge_needs_int8_fails_fp32_with_the_reason_and_passes_int8(files):
    edge = get_target("edge")
    fp32 = check_artifact(files["fp32"], edge, runs=5)
    int8 = check_artifact(files["int8"], edge, runs=5)
    assert not fp32["passed"] and int8["passed"], int8
    need = _by_name(fp32)["int8 weights"]
    assert not need["passed"] and "needs int8 weights" in need["reason"]
    assert "add an int8 step" in need["reason"]
    assert _by_name(int8)["int8 weights"]["passed"]
    assert fp32["proxy"] and fp32["threads"] == 4  # latency measured here, at the edge's 4 cores
    assert _by_name(int8)["latency p50"]["measured"] > 0


def test_peak_memory_is_measured_and_a_low_limit_says_what_to_do(files, tmp_path):
    big = matmul_model(tmp_path / "big.onnx", hidden=2048)  # a 16.8 MB weight
    tight = TargetProfile(name="tight", kind="edge", threads=1, max_peak_memory_mb=8.0)
    res = _by_name(check_artifact(big, tight))["peak memory"]
    assert not res["passed"] and res["measured"] >= 16, res  # the weight is resident
    assert "> 8 MB" in res["reason"] and "quantize to int8" in res["reason"]
    roomy = dataclasses.replace(tight, max_peak_memory_mb=4096.0)
    assert _by_name(check_artifact(files["fp32"], roomy))["peak memory"]["passed"]


def test_opset_above_the_limit_fails_naming_the_export_setting(files):
    old = TargetProfile(name="old-runtime", max_opset=13)
    res = _by_name(check_artifact(files["fp32"], old))["opset"]
    assert not res["passed"] and res["measured"] == 17 and res["limit"] == 13
    assert "export.opset: 13" in res["reason"]
    assert check_artifact(files["fp32"], dataclasses.replace(old, max_opset=17))["passed"]


def test_operator_the_mobile_accelerators_cannot_run_is_named(tmp_path):
    path = matmul_model(tmp_path / "cos.onnx", tail="Cos")
    mobile = TargetProfile(name="phone", kind="mobile", ort_mobile=True, mobile_eps=("nnapi",))
    reqs = _by_name(check_artifact(path, mobile))
    assert reqs[".ort conversion"]["passed"] and reqs[".ort conversion"]["measured"] > 0
    nnapi = reqs["NNAPI (Android) operators"]
    assert not nnapi["passed"] and "cannot run Cos" in nnapi["reason"]
    relu = _by_name(check_artifact(matmul_model(tmp_path / "relu.onnx"), mobile))
    assert relu["NNAPI (Android) operators"]["passed"]


def test_ort_conversion_failure_is_a_failed_requirement_with_its_message(tmp_path):
    path = matmul_model(tmp_path / "custom.onnx", tail="Sparkle", domain="my.ops")
    mobile = TargetProfile(name="phone", kind="mobile", ort_mobile=True)
    conv = _by_name(check_artifact(path, mobile))[".ort conversion"]
    assert not conv["passed"] and conv["reason"].startswith(".ort conversion failed: ")
    assert "Sparkle" in conv["reason"] or "my.ops" in conv["reason"], conv["reason"]


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this onnxruntime has CUDA")
def test_server_gpu_without_cuda_fails_on_the_provider(files):
    res = check_artifact(files["int8"], get_target("server-gpu"))
    provider = _by_name(res)["execution provider"]
    assert not res["passed"] and not provider["passed"]
    assert "no CUDAExecutionProvider" in provider["reason"]
    assert "latency p50" not in _by_name(res)  # nothing timed on a provider that is not there
