"""Every ratio in the shrink verdict reads in the direction it went: grew vs shrank, slower vs faster.

The issue's case: an unstructured child zipped to 428 MB against the parent's 357 MB was told
"only the zip size shrinks (1.20×)".
"""

from __future__ import annotations

import copy
import re

import pytest

from engine.shrink import shrink_report, shrink_text
from engine.shrink_verdict import size_phrase, speed_phrase
from tests.engine.collapse_cards import child_card, parent_card

UNSTRUCTURED = "unstructured_prune(criterion=magnitude, amount=0.5, scope=global)"


def _dense_zeros(zip_ratio: float, size_ratio: float = 1.0, speedup: float = 1.0) -> tuple[dict, dict]:
    """(child, parent): an unstructured child, same tensors, half of them zero."""
    parent = parent_card()
    child = copy.deepcopy(parent)
    child.update(id="child", parent="base", method=UNSTRUCTURED, metrics={"perplexity": 39.0})
    child["model"]["nonzero_params"] = parent["model"]["params"] // 2
    child["onnx"].update(size_bytes=parent["onnx"]["size_bytes"] * size_ratio,
                         zip_bytes=parent["onnx"]["zip_bytes"] * zip_ratio,
                         latency_ms_p50=parent["onnx"]["latency_ms_p50"] / speedup)
    return child, parent


def _all_text(r: dict) -> str:
    return "\n".join([r["verdict"], *r["reasons"], *r["measured"]])


def test_a_zip_that_grew_is_never_said_to_shrink():
    child, parent = _dense_zeros(zip_ratio=428 / 357)
    r = shrink_report(child, parent)
    text = _all_text(r)
    assert "shrink" not in text.replace("Nothing shrank", "")
    assert r["outcome"] == "none"
    assert r["verdict"] == ("Nothing shrank: the ONNX file kept about the parent's size (1.00×); "
                            "the zip grew to 1.20× the parent's, and the same dense kernels run.")
    assert any("even the zip grew to 1.20× the parent's" in line for line in r["reasons"])
    assert any(line.startswith("zipped ") and line.endswith("(1.20×, larger)") for line in r["measured"])


def test_a_zip_that_shrank_says_so():
    child, parent = _dense_zeros(zip_ratio=0.83)
    r = shrink_report(child, parent)
    assert r["outcome"] == "zip_only"
    assert "the ONNX file keeps its size (1.00×)" in r["verdict"]
    assert "only the zip shrinks (0.83×)" in r["verdict"]
    assert any("only the zip size shrinks (0.83× the parent's)" in line for line in r["reasons"])
    assert any(line.endswith("(0.83×, smaller)") for line in r["measured"])
    assert "grew" not in _all_text(r)


def test_an_onnx_file_that_grew_with_zeros_says_grew():
    child, parent = _dense_zeros(zip_ratio=0.83, size_ratio=1.3)
    r = shrink_report(child, parent)
    assert "the ONNX file grew (1.30×)" in r["verdict"] and "keeps its size" not in r["verdict"]
    assert any(line.startswith("ONNX file ") and line.endswith("(1.30×, larger)") for line in r["measured"])


@pytest.mark.parametrize("keep, speedup, outcome, verdict", [
    (0.6, 1.5, "smaller_faster", "Yes: 0.60× the parent's ONNX size and 1.50× faster."),
    (0.6, 0.8, "smaller", "Smaller (0.60× the parent's ONNX size) but not faster: latency 1.25× slower."),
    (1.3, 1.5, "faster", "Faster (1.50×), but the ONNX file grew to 1.30× the parent's."),
    (1.0, 1.5, "faster", "Faster (1.50×) at about the same ONNX size (1.00×)."),
    (1.3, 0.8, "none", "No: the ONNX file grew to 1.30× the parent's; latency 1.25× slower."),
    (1.0, 0.5, "none", "No: the ONNX file kept about the parent's size (1.00×); latency 2.00× slower."),
])  # fmt: skip
def test_size_and_speed_read_in_their_direction(keep, speedup, outcome, verdict):
    parent = parent_card()
    child = child_card(parent, {"perplexity": 38.7}, keep=keep, speedup=speedup)
    r = shrink_report(child, parent)
    assert (r["outcome"], r["verdict"]) == (outcome, verdict)
    latency = next(line for line in r["measured"] if line.startswith("latency"))
    assert latency.endswith(f"({speed_phrase(speedup)})")
    # never a speed-up ratio below 1 or a "slower" number below 1
    for number, word in re.findall(r"(\d+\.\d+)× (faster|slower)", _all_text(r)):
        assert float(number) > 1, (number, word)
    assert ("slower" in latency) == (speedup < 1) and ("faster" in latency) == (speedup > 1)


def test_phrases_pick_the_verb_from_the_number():
    assert size_phrase(0.83) == "shrank to 0.83× the parent's"
    assert size_phrase(1.2) == "grew to 1.20× the parent's"
    assert size_phrase(1.02) == "kept about the parent's size (1.02×)"
    assert speed_phrase(1.5) == "1.50× faster"
    assert speed_phrase(0.8) == "1.25× slower"
    assert speed_phrase(1.02) == "about as fast (1.02×)"


def test_against_the_control_the_direction_words_stay():
    child, parent = _dense_zeros(zip_ratio=1.2)
    r = shrink_report(child, parent, "control")
    assert "the zip grew to 1.20× the control's" in r["verdict"] and "the parent's" not in _all_text(r)


def test_terminal_text_carries_the_directions():
    child, parent = _dense_zeros(zip_ratio=1.2, speedup=0.8)
    text = shrink_text(shrink_report(child, parent))
    assert "(1.20×, larger)" in text and "(1.25× slower)" in text
    assert "measured latency difference (1.25× slower) cannot come from the zeros" in text
