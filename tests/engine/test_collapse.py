"""The collapse flag: a child whose metric is far worse than its parent's is no success.

Cards as the job writes them (tests/engine/collapse_cards.py), the thresholds from a real
recipe's `checks` section, the card a real job writes, and `workbench-cli show` / `list`.
"""

from __future__ import annotations

import pytest

from engine.collapse import DEFAULT_CHECKS, checks_of, collapse_check, diagnose
from engine.config_fields import config_to_dict
from engine.recipe import Recipe
from engine.shrink import shrink_report, shrink_text
from tests.engine.collapse_cards import STRUCTURED_L1, child_card, parent_card, save_workspace


def test_perplexity_far_worse_is_collapsed_metric_first():
    parent = parent_card()
    child = child_card(parent, {"perplexity": 41605.0, "loss": 10.64})
    r = shrink_report(child, parent)
    assert r["outcome"] == "smaller_faster"  # smaller and faster: the old "Yes"
    assert r["collapsed"] and r["collapse"]["ratio"] == pytest.approx(41605 / 38.6)
    assert r["verdict"].startswith(
        "Collapsed: perplexity rose from 38.6 to 41,605 (×1,078) — the model no longer works; "
        "size and speed do not matter until it does."
    )
    assert "Yes" not in r["verdict"] and "faster" not in r["verdict"].split("Likely cause")[0]
    # the size verdict is kept, beside the flag, and the terminal text puts the flag first
    assert r["size_verdict"].startswith("Smaller and faster, but perplexity rose")
    lines = shrink_text(r).splitlines()
    assert lines[0].startswith("✘ Collapsed: perplexity rose from 38.6 to 41,605")
    assert lines[1].startswith("  likely cause: structured pruning ranked attention heads and FFN "
                               "neurons by weight magnitude alone (importance: l1)")
    assert lines[2].startswith("  try: importance: taylor (data-aware")
    assert lines[3] == ("  flagged because perplexity rose above ×2 the parent's "
                        "(checks.max_metric_ratio: 2)")
    assert lines[4] == f"did it shrink? {r['size_verdict']}"


def test_accuracy_drop_beyond_five_points_is_collapsed():
    parent = parent_card({"accuracy": 0.812, "loss": 0.45})
    child = child_card(parent, {"accuracy": 0.503, "loss": 0.69}, train_steps=500)
    c = collapse_check(child, parent)
    assert c["collapsed"] and c["drop"] == pytest.approx(0.309)
    assert c["headline"].startswith("Collapsed: accuracy fell from 81.2% to 50.3% (−30.9 pts) —")
    assert c["rule"] == "accuracy fell by more than 5 points (checks.max_accuracy_drop: 0.05)"


@pytest.mark.parametrize("metrics, parent_metrics", [
    ({"perplexity": 70.0}, {"perplexity": 38.6}),  # ×1.81: worse, not collapsed
    ({"accuracy": 0.78}, {"accuracy": 0.812}),  # −3.2 points
    ({"loss": 3.9}, {"loss": 3.653}),
])  # fmt: skip
def test_within_the_thresholds_is_not_collapsed(metrics, parent_metrics):
    parent = parent_card(parent_metrics)
    child = child_card(parent, metrics)
    c = collapse_check(child, parent)
    assert c is not None and c["collapsed"] is False and "headline" not in c
    r = shrink_report(child, parent)
    assert not r["collapsed"] and r["verdict"] == r["size_verdict"]
    assert not r["verdict"].startswith("Collapsed") and not shrink_text(r).startswith("✘")


def test_thresholds_from_a_recipe_change_the_outcome():
    parent = parent_card()
    child = child_card(parent, {"perplexity": 70.0})  # ×1.81
    strict = Recipe.from_yaml("name: x\nchecks: {max_metric_ratio: 1.5}\n")
    checks = config_to_dict(strict.checks)
    assert checks == {"max_accuracy_drop": 0.05, "max_metric_ratio": 1.5}
    assert collapse_check(child, parent, checks)["collapsed"]
    # stored on the card (as the job does), the card's own thresholds are the ones used
    assert not shrink_report(child, parent)["collapsed"]
    assert shrink_report(dict(child, checks=checks), parent)["collapsed"]
    lenient = config_to_dict(Recipe.from_yaml("name: x\nchecks: {max_metric_ratio: 5000}\n").checks)
    far = child_card(parent, {"perplexity": 41605.0})
    assert not shrink_report(dict(far, checks=lenient), parent)["collapsed"]
    acc_parent = parent_card({"accuracy": 0.812})
    acc_child = child_card(acc_parent, {"accuracy": 0.78})  # −3.2 points
    tight = config_to_dict(Recipe.from_yaml("name: x\nchecks: {max_accuracy_drop: 0.02}\n").checks)
    assert collapse_check(acc_child, acc_parent, tight)["collapsed"]
    assert not collapse_check(acc_child, acc_parent)["collapsed"]


def test_a_diverged_metric_is_collapsed_in_memory_and_once_stored():
    parent = parent_card()
    for value in (float("nan"), float("inf"), None):  # None: how strict JSON stores nan
        c = collapse_check(child_card(parent, {"perplexity": value, "loss": value}), parent)
        assert c["collapsed"] and c["headline"].startswith("Collapsed: perplexity became ")
        assert "(the parent's: 38.6)" in c["headline"]
    assert collapse_check(child_card(parent, {"loss": 3.7}), parent_card({"loss": 3.6}))["collapsed"] is False


def test_old_cards_and_bad_values_use_the_defaults():
    assert DEFAULT_CHECKS == {"max_accuracy_drop": 0.05, "max_metric_ratio": 2.0}
    assert checks_of({}) == DEFAULT_CHECKS  # a card written before `checks` existed
    assert checks_of({"checks": {"max_metric_ratio": "x", "max_accuracy_drop": -1}}) == DEFAULT_CHECKS
    assert collapse_check(child_card(parent_card(), {"perplexity": 80.0}), parent_card())["collapsed"]


def test_cause_and_advice_follow_the_method_and_training():
    parent = parent_card()
    pairs = diagnose(child_card(parent, {"perplexity": 1e4}))
    causes, advice = [c for c, _ in pairs], [a for _, a in pairs]
    assert "which on a causal LM often removes units the model depends on" in causes[0]
    assert advice[0].startswith("importance: taylor")
    assert causes[-1] == "no fine-tuning after pruning (train.epochs: 0)"
    assert advice[-1].startswith("fine-tune after pruning")
    # Taylor importance, a big cut, some training: no taylor advice; lower the amount instead
    taylor = child_card(parent, {"perplexity": 1e4}, train_steps=40,
                        method="structured_prune(target=ffn, amount=0.6, importance=taylor, scope=layer)")
    pairs = diagnose(taylor)
    assert not any("taylor" in a for _, a in pairs)
    assert pairs[0] == ("60% of the FFN neurons were removed in one step",
                        "lower the amount or prune gradually: several smaller steps with "
                        "fine-tuning between them")
    assert pairs[1][0] == "only 40 fine-tuning steps after pruning"
    # unstructured at once -> gradual schedule; long training and nothing else -> sensitivity
    oneshot = child_card(parent, {"perplexity": 1e4}, train_steps=1000,
                         method="unstructured_prune(criterion=magnitude, amount=0.9, scope=global)")
    assert diagnose(oneshot) == [("90% of the weights were set to zero at once",
                                  "lower the amount or prune gradually (schedule: gradual)")]
    quiet = child_card(parent, {"perplexity": 1e4}, train_steps=1000,
                       method="unstructured_prune(criterion=taylor, amount=0.3, scope=global)")
    assert "workbench-cli sensitivity" in diagnose(quiet)[0][1]
    # two big structured cuts: one cause naming both, one piece of advice
    both = child_card(parent, {"perplexity": 1e4}, train_steps=1000, method=(
        "structured_prune(target=heads, amount=0.5, importance=taylor, scope=layer) + "
        "structured_prune(target=ffn, amount=0.75, importance=taylor, scope=layer)"))
    assert diagnose(both) == [("50% of the attention heads and 75% of the FFN neurons were removed "
                               "in one step each", "lower the amount or prune gradually: several "
                               "smaller steps with fine-tuning between them")]


def test_an_old_card_without_importance_in_its_method_reads_the_default():
    """Cards written before importance was always named: the structured default (l1) applies."""
    parent = parent_card()
    old = child_card(parent, {"perplexity": 1e4},
                     method="structured_prune(target=ffn, amount=0.25, scope=layer)")
    assert "importance: taylor" in diagnose(old)[0][1]
    assert "importance=l1" in STRUCTURED_L1
    # auto is taylor on a causal LM with data (nothing to blame), l1 without data
    auto = child_card(parent, {"perplexity": 1e4},
                      method="structured_prune(target=ffn, amount=0.25, importance=auto, scope=layer)")
    assert not any("taylor" in a for _, a in diagnose(dict(auto, data="shakespeare, 200 samples")))
    assert "importance: taylor" in diagnose(dict(auto, data=None))[0][1]


def test_the_job_writes_checks_and_the_flag_on_the_card(finished_job):
    """A real run: the thresholds it used and the flag against its parent are on its card."""
    from engine.store import Workspace

    ws, result, _ = finished_job
    store = Workspace(ws)
    card = store.get(result.run_id).card
    assert card["checks"] == DEFAULT_CHECKS
    flag = card["shrink"]["collapse"]
    parent = store.get(card["parent"]).card
    ratio = card["metrics"]["perplexity"] / parent["metrics"]["perplexity"]
    assert flag["ratio"] == pytest.approx(ratio) and flag["checks"] == DEFAULT_CHECKS
    assert flag["collapsed"] is card["shrink"]["collapsed"] is (ratio > 2.0)
    # the same real card judged by a threshold just under / over its own ratio
    assert collapse_check(card, parent, {"max_metric_ratio": ratio * 0.99})["collapsed"]
    assert not collapse_check(card, parent, {"max_metric_ratio": ratio * 1.01})["collapsed"]


def test_cli_show_and_list_flag_the_collapsed_child(tmp_path):
    from tests.engine.test_cli import cli

    parent = parent_card()
    ids = save_workspace(tmp_path / "ws", [parent, child_card(parent, {"perplexity": 41605.0})])
    out = cli("show", ids[1], "--workspace", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stderr
    assert "finished, collapsed" in out.stdout  # the table's status
    assert "✘ Collapsed: perplexity rose from 38.6 to 41,605 (×1,078)" in out.stdout
    assert "try: importance: taylor" in out.stdout
    assert out.stdout.index("✘ Collapsed") < out.stdout.index("did it shrink?")
    listed = cli("list", "--workspace", str(tmp_path / "ws"))
    assert listed.returncode == 0, listed.stderr  # `list` reads the flag the run stored
    assert listed.stdout.count("finished, collapsed") == 1 and listed.stdout.count("finished") == 2
