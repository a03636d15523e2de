"""Bad int8 settings are one clear line naming the field, from the config alone (forms and
recipe loading use the same checks); the accuracy-aware search is wired into the handler."""

from __future__ import annotations

import onnx
import pytest

from engine.config_fields import ConfigError, config_from_dict, validate_config
from engine.methods.quantize.int8_config import DynamicInt8Config, StaticInt8Config
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic
from tests.engine.quantize.int8_models import bundle, context, export_textnet


def _errors(cls: type, **settings) -> list[str]:
    return [str(e) for e in validate_config(config_from_dict(cls, settings, "methods[0]"), "methods[0]")]


@pytest.mark.parametrize("value", [0, -1, 100.5])
def test_percentile_outside_0_100(value):
    (err,) = _errors(StaticInt8Config, calibration_method="percentile", percentile=value)
    assert err.startswith("Step 1 · methods[0].percentile: must be in (0, 100]")


def test_percentile_100_and_tiny_are_fine():
    assert _errors(StaticInt8Config, percentile=100) == []
    assert _errors(StaticInt8Config, percentile=0.5) == []


def test_calibration_count_zero():
    (err,) = _errors(StaticInt8Config, calibration_samples=0)
    assert err.startswith("Step 1 · methods[0].calibration_samples: must be in [1,")


def test_op_type_the_mode_cannot_quantize():
    (err,) = _errors(DynamicInt8Config, op_types=["MatMul", "Gemm"])
    assert "methods[0].op_types: Gemm cannot be quantized in dynamic mode" in err
    assert _errors(StaticInt8Config, op_types=["MatMul", "Gemm"]) == []  # QDQ has Gemm
    (err,) = _errors(StaticInt8Config, quant_format="qoperator", op_types=["LayerNormalization"])
    assert "LayerNormalization cannot be quantized in qoperator mode" in err


def test_bad_regex_and_unknown_setting():
    (err,) = _errors(DynamicInt8Config, exclude_nodes=["re:(unclosed"])
    assert err.startswith("Step 1 · methods[0].exclude_nodes: 're:(unclosed' is not a valid")
    with pytest.raises(ConfigError, match=r"methods\[0\]\.calibration_samples: unknown setting"):
        config_from_dict(DynamicInt8Config, {"calibration_samples": 8}, "methods[0]")


def test_max_drop_search_keeps_the_node_the_metric_needs_in_fp32(tmp_path):
    """A constructed metric: accuracy is 1 only while /body.1/MatMul stays float. The search
    must find it, and the artifact handed back must be the one that met the bound."""
    src = export_textnet(tmp_path / "fp32.onnx")
    seen: list[int] = []

    def evaluate(path):
        names = {n.name: n.op_type for n in onnx.load(str(path)).graph.node}
        seen.append(len(names))
        return {"accuracy": 1.0 if names.get("/body.1/MatMul") == "MatMul" else 0.0}

    actx = context(src, tmp_path / "out", bundle(), evaluate=evaluate)
    result = quantize_int8_dynamic(DynamicInt8Config(max_drop=0.01), actx)
    search = result.summary["exclusion"]
    assert search["met"] and "/body.1/MatMul" in search["excluded"]
    assert [s["met"] for s in search["steps"]][-1] is True and not search["steps"][0]["met"]
    assert "/body.1/MatMul" in result.summary["excluded_nodes"]
    assert evaluate(result.path)["accuracy"] == 1.0
    # candidates cleaned up: the artifact and its recorded activation ranges are all that is left
    assert sorted((tmp_path / "out").iterdir()) == sorted(
        [result.path, result.path.with_name("model.int8-dynamic.activations.json")])


def test_max_drop_without_evaluation_or_bound_is_a_clear_error(tmp_path):
    src = export_textnet(tmp_path / "fp32.onnx")
    with pytest.raises(ConfigError, match=r"^Step 1 · methods\[0\]\.max_drop: needs the"):
        quantize_int8_dynamic(DynamicInt8Config(max_drop=0.01), context(src, tmp_path / "o"))
    generic = context(src, tmp_path / "g", evaluate=lambda p: {})
    generic.task = "generic"
    with pytest.raises(ConfigError, match="max_drop: a 'generic' model has no accuracy"):
        quantize_int8_dynamic(DynamicInt8Config(max_drop=0.01), generic)


def test_recipe_loading_names_the_step_field():
    from engine.recipe import Recipe

    text = """
name: q
model: {source: builtin, path: tiny-bert}
methods:
  - {type: int8_static, calibration_method: percentile, percentile: 0, calibration_samples: 0}
"""
    with pytest.raises(ConfigError) as err:
        Recipe.from_yaml(text).validate()
    assert "methods[0].percentile: must be in (0, 100], got 0" in str(err.value)
    assert "methods[0].calibration_samples: must be in [1," in str(err.value)
