"""A step's notes (grouped-query rounding, what `auto` chose) reach the verdict; the collapse
diagnosis reads the importance a step actually used from the card, not the `auto` it asked."""

from __future__ import annotations

from engine.collapse import diagnose
from engine.shrink import shrink_report, shrink_text
from engine.step_notes import step_notes
from tests.engine.collapse_cards import child_card, parent_card

AUTO = "structured_prune(target=heads, amount=0.25, importance=auto, scope=layer)"
GQA = ("heads: 4 of 8 per attention module (50%) will be removed, asked 25% (2 heads): under "
       "grouped-query attention 4 query heads share each key/value head")


def _child(importance_used: str) -> dict:
    parent = parent_card()
    child = child_card(parent, {"perplexity": 41_605.0}, method=AUTO)
    child["steps"] = [{"step": 1, "title": "Structured pruning heads 25%", "importance": importance_used,
                       "importance_asked": "auto", "notes": [GQA]}]
    return child


def test_notes_are_in_the_report_and_its_text() -> None:
    child = _child("taylor")
    assert step_notes(child) == [f"Step 1 · Structured pruning heads 25%: {GQA}"]
    report = shrink_report(child, parent_card())
    assert any("asked 25%" in r for r in report["reasons"])
    assert "Step 1 · Structured pruning heads 25%: heads: 4 of 8" in shrink_text(report)


def test_no_steps_no_notes() -> None:
    assert step_notes({"steps": None}) == []
    assert step_notes({"steps": [{"step": 1, "title": "x", "notes": []}, "junk"]}) == []


def test_auto_that_fell_back_to_l1_is_diagnosed_as_magnitude() -> None:
    advice = " ".join(try_ for _, try_ in diagnose(_child("l1")))
    assert "importance: taylor" in advice
    advice = " ".join(try_ for _, try_ in diagnose(_child("taylor")))
    assert "importance: taylor" not in advice  # Taylor was used: the advice is something else


def test_the_csv_says_which_variants_collapsed() -> None:
    import csv
    import io

    from engine.store import Variant
    from engine.variants_csv import variants_csv

    parent = parent_card()
    base = Variant(id="base", parent=None, name="lm (base)", status="finished", recipe="", card=parent)
    bad = Variant(id="child", parent="base", name="pruned", status="finished", recipe="",
                  card=child_card(parent, {"perplexity": 41_605.0}), created=1.0)
    fine = Variant(id="ok", parent="base", name="fine", status="finished", recipe="",
                   card={**child_card(parent, {"perplexity": 40.0}), "id": "ok"}, created=2.0)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(variants_csv([base, bad, fine])))}
    assert rows["pruned"]["collapsed"] == "True"
    assert rows["fine"]["collapsed"] == "False"
    assert rows["lm (base)"]["collapsed"] == ""  # nothing to compare with


def test_estimate_notes_put_asked_vs_done_before_what_auto_chose() -> None:
    from engine.estimate import StepEstimate, StepsEstimate

    steps = [StepEstimate("Step 1 · Structured pruning heads 25%", 4, 90, 90, 0.0,
                          notes=["importance auto: taylor (a causal LM with data)", GQA]),
             StepEstimate("Step 2 · Structured pruning ffn 25%", 4, 80, 80, 0.0,
                          notes=["importance l1 is risky on a causal LM"])]
    notes = StepsEstimate(100, steps).notes()
    assert notes == [f"Step 1: {GQA}", "Step 2: importance l1 is risky on a causal LM",
                     "Step 1: importance auto: taylor (a causal LM with data)"]


def test_huge_perplexities_read_in_powers_of_ten() -> None:
    from engine.metric_text import fmt_metric

    assert fmt_metric("perplexity", 41_605.2) == "41,605"
    assert fmt_metric("perplexity", 5.1847e21) == "5.18e+21"
