"""Accuracy-aware exclusion on real int8 files: meets its bound, or says it cannot."""

from __future__ import annotations

import numpy as np
import pytest

from engine.methods.quantize.exclusion import limit, search_exclusions, sizes, within
from engine.methods.quantize.node_error import node_errors
from tests.engine.quantize import outlier_net as T


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The outlier net, its fp32 labels on held-out batches, and make/evaluate for it."""
    d = tmp_path_factory.mktemp("excl")
    src = T.export(d / "fp32.onnx", outlier=True)
    calib, held_out = T.feeds(outlier=True), T.feeds(4, 32, outlier=True, seed=7)
    labels = T.logits(src, held_out).argmax(1)  # fp32 is right by definition: accuracy 1.0
    made: list[list[str]] = []

    def make(excluded: list[str]):
        made.append(list(excluded))
        return T.quantize(src, d / f"q{len(made)}.onnx", "dynamic", calib, nodes_to_exclude=excluded)

    def evaluate(path) -> dict[str, float]:
        out = T.logits(path, held_out)
        shifted = out - out.max(1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        nll = -logp[np.arange(len(labels)), labels].mean()
        return {"accuracy": float((out.argmax(1) == labels).mean()), "perplexity": float(np.exp(nll))}

    ranked = [e.node for e in node_errors(src, T.quantize(src, d / "q0.onnx", "dynamic", calib), calib)]
    return src, make, evaluate, ranked, made


def test_classification_bound_is_met_by_keeping_the_worst_node(case):
    src, make, evaluate, ranked, made = case
    fp32 = evaluate(src)
    lines: list[str] = []
    result = search_exclusions(make, evaluate, ranked, fp32, "classification", 0.05, lines.append)
    assert ranked[0] == "/conv/Conv"
    assert result.met and result.excluded == ["/conv/Conv"]
    first, last = result.steps
    assert first["excluded"] == [] and not first["met"] and first["metrics"]["accuracy"] < 0.6
    assert last["met"] and last["metrics"]["accuracy"] >= 0.95
    assert all(s["size_bytes"] > 0 for s in result.steps)
    assert len(lines) == 2 and "meets accuracy ≥ 0.95" in lines[1]
    assert "met with 1 node(s) kept in fp32" in result.message


def test_perplexity_bound_is_met_too(case):
    src, make, evaluate, ranked, made = case
    fp32 = evaluate(src)
    result = search_exclusions(make, evaluate, ranked, fp32, "causal-lm", 0.10, lambda _: None)
    assert result.met and result.excluded == ["/conv/Conv"]
    assert result.steps[-1]["metrics"]["perplexity"] <= fp32["perplexity"] * 1.10
    assert result.steps[0]["metrics"]["perplexity"] > fp32["perplexity"] * 1.10


def test_it_says_it_cannot_when_the_culprit_is_not_ranked(case):
    src, make, evaluate, ranked, made = case
    made.clear()
    innocent = [n for n in ranked if n != "/conv/Conv"]
    lines: list[str] = []
    result = search_exclusions(
        make, evaluate, innocent, evaluate(src), "classification", 0.05, lines.append
    )
    assert not result.met and result.excluded == []
    # 0, 1, 2 ... then all: each step is reported, the last keeps every ranked node in fp32
    assert len(innocent) == 3  # fc1, fc2 and the head Gemm (dynamic int8 quantizes it)
    assert made == [[], innocent[:1], innocent[:2], innocent]
    assert [s["excluded"] for s in result.steps] == made
    assert result.message.startswith("cannot meet accuracy ≥ 0.95")
    assert f"even with all {len(innocent)} ranked node(s) in fp32" in result.message
    assert "best: accuracy" in result.message and lines[-1].endswith(result.message)


def test_max_rounds_stops_the_search_and_says_so(case):
    src, make, evaluate, ranked, made = case
    result = search_exclusions(
        make, evaluate, ranked, evaluate(src), "classification", 0.0001, lambda _: None, max_rounds=1
    )
    assert len(result.steps) == 1 and not result.met
    assert "stopped after 1 round(s)" in result.message


def test_bound_semantics():
    # classification: an absolute drop in accuracy; causal-lm: a relative rise in perplexity
    assert limit("classification", {"accuracy": 0.9}, 0.005) == pytest.approx(0.895)
    assert within("classification", {"accuracy": 0.895}, 0.895)
    assert not within("classification", {"accuracy": 0.8949}, 0.895)
    assert limit("causal-lm", {"perplexity": 20.0}, 0.05) == pytest.approx(21.0)
    assert within("causal-lm", {"perplexity": 21.0}, 21.0)
    assert not within("causal-lm", {"perplexity": 21.01}, 21.0)
    assert not within("causal-lm", {"perplexity": float("nan")}, 21.0)
    assert sizes(0) == [0] and sizes(1) == [0, 1] and sizes(5) == [0, 1, 2, 4, 5]
    assert sizes(8) == [0, 1, 2, 4, 8]


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="task: the exclusion search needs a metric bound"):
        limit("generic", {"loss": 1.0}, 0.1)
    with pytest.raises(ValueError, match="fp32_metrics: no 'perplexity'"):
        limit("causal-lm", {"accuracy": 1.0}, 0.1)
    with pytest.raises(ValueError, match="max_drop: must be 0 or more"):
        limit("classification", {"accuracy": 1.0}, -0.1)
