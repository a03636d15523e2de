"""Run page words for the job's stages and for the quantized files of a finished run."""

from __future__ import annotations

from engine.recipe import Recipe
from engine.stages import STAGES
from gui.pages.run_text import artifacts_text, card_summary, stage_title, summary_text
from tests.conftest import ROOT

PRUNE = """
name: p
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 50}
methods:
  - {type: unstructured_prune, amount: 0.5}
"""


def test_every_stage_of_the_job_has_a_readable_name():
    for stage in STAGES:
        assert stage_title(stage) != stage or " " in stage, stage
    assert stage_title("deploy") == "quantizing & measuring files"
    assert stage_title("check") == "checking the result"
    assert stage_title("something-new") == "something-new"  # unknown: shown as is
    # without a quantize step the deploy stage only measures the fp32 file
    prune = Recipe.from_yaml(PRUNE)
    assert stage_title("deploy", prune) == "measuring the ONNX file"
    assert stage_title("deploy", Recipe.load(ROOT / "assets/recipes/quantize-int8-dynamic-tiny.yaml")) == (
        "quantizing & measuring files")


def test_the_finished_line_names_each_quantized_file_with_its_own_numbers():
    card = {
        "metrics": {"perplexity": 6.10},
        "onnx": {"latency_ms_p50": 3.0},
        "artifacts": [
            {"kind": "onnx-fp32", "size_bytes": 3_760_000, "metrics": {"perplexity": 6.10}},
            {"kind": "onnx-int8-dynamic", "size_bytes": 1_010_000, "speedup_vs_fp32": 1.147,
             "metrics": {"perplexity": 6.0909}},
        ],
    }
    text = artifacts_text(card)
    assert text.startswith("int8-dynamic file 1.0 MB, 1.15× fp32 speed, perplexity 6.09")
    assert "fp32 file" not in text
    assert text in summary_text(card_summary(card))
    assert artifacts_text({"metrics": {}}) == ""
