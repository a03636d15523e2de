"""Did the model collapse? A child whose headline metric is far worse than its parent's.

`engine.metric_text.compare_metric` calls any change beyond evaluation noise 'lost'. This is
the level above it: a metric so much worse (accuracy down by more than
`checks.max_accuracy_drop`, perplexity or loss up by more than `checks.max_metric_ratio`
times) that the model no longer does its job, so a smaller file or a faster run must not
read as a success. The thresholds come from the recipe's `checks` section and are stored on
the card (`card["checks"]`); cards written before that use the defaults. The flag carries
the likely cause and what to try, read from the card's method text and training.
"""

from __future__ import annotations

import math
import re
from typing import Any

from engine.config_fields import config_to_dict
from engine.metric_text import HEADLINE, LOWER_IS_BETTER, compare_metric, fmt_delta, fmt_metric
from engine.recipe import ChecksConfig

DEFAULT_CHECKS: dict[str, float] = config_to_dict(ChecksConfig())
WHY_NOT = "the model no longer works; size and speed do not matter until it does."
STRUCTURED_HIGH = 0.4  # one structured step removing this much of its units is a big cut
UNSTRUCTURED_HIGH = 0.7  # zeroing this much at once (no gradual schedule) is a big cut
SHORT_TRAINING = 100  # fewer fine-tuning steps than this rarely recover a pruned model
UNITS = {"ffn": "FFN neurons", "heads": "attention heads", "channels": "conv channels"}
_STEP = re.compile(r"(\w+)\(([^()]*)\)")
_ARG = re.compile(r"(\w+)=([^,]+)")


def checks_of(card: dict[str, Any], checks: dict[str, Any] | None = None) -> dict[str, float]:
    """The thresholds to judge `card` by: `checks` if given, else the card's, else the defaults."""
    given = checks if checks is not None else card.get("checks")
    out = dict(DEFAULT_CHECKS)
    for key, value in (given or {}).items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if key in out and ok and value > 0:
            out[key] = float(value)
    return out


def times(ratio: float) -> str:
    """'×1,078' / '×2.35': how many times the parent's value."""
    return f"×{ratio:,.0f}" if ratio >= 100 else f"×{ratio:.3g}"


def collapse_check(
    card: dict[str, Any], parent_card: dict[str, Any] | None, checks: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Is `card`'s headline metric far worse than `parent_card`'s? None when they cannot be compared.

    Returns collapsed (bool), the metric (name, value, parent_value, change: the ratio or the
    points lost), the thresholds used, and when collapsed: headline (the metric first),
    rule (which threshold), causes and advice (paired lists).
    """
    limits = checks_of(card, checks)
    m = _non_finite(card, parent_card) or compare_metric(card, parent_card)
    if m is None:
        return None
    name, value, parent_value = m["name"], m["value"], m["parent_value"]
    out: dict[str, Any] = {"name": name, "value": value, "parent_value": parent_value,
                           "checks": limits, "collapsed": False}
    if not math.isfinite(value):
        out.update(collapsed=True, change=f"{name} is {value}",
                   rule=f"{name} is {value} while the parent's is {fmt_metric(name, parent_value)}")
    elif name in LOWER_IS_BETTER:
        if parent_value <= 0:
            return None  # no ratio to judge by
        ratio = value / parent_value
        limit = limits["max_metric_ratio"]
        out.update(collapsed=ratio > limit, ratio=ratio, change=times(ratio),
                   rule=f"{name} rose above {times(limit)} the parent's "
                        f"(checks.max_metric_ratio: {limit:g})")
    else:
        drop = parent_value - value
        limit = limits["max_accuracy_drop"]
        out.update(collapsed=drop > limit, drop=drop, change=fmt_delta(name, -drop),
                   rule=f"{name} fell by more than {limit * 100:g} points "
                        f"(checks.max_accuracy_drop: {limit:g})")
    if out["collapsed"]:
        out["headline"] = _headline(out)
        pairs = diagnose(card)
        out["causes"], out["advice"] = [c for c, _ in pairs], [a for _, a in pairs]
    return out


def _non_finite(card: dict[str, Any], parent_card: dict[str, Any] | None) -> dict[str, Any] | None:
    """A headline metric that became nan/inf (diverged) while the parent's is a number.

    A stored card holds null there (strict JSON has no nan), so a null next to a parent's
    number reads as nan too.
    """
    mine, theirs = card.get("metrics") or {}, (parent_card or {}).get("metrics") or {}
    for name in HEADLINE:
        value, parent_value = mine.get(name, 0.0), theirs.get(name)
        lost = value is None or (isinstance(value, float) and not math.isfinite(value))
        if lost and isinstance(parent_value, (int, float)) and math.isfinite(parent_value):
            return {"name": name, "value": float("nan") if value is None else value,
                    "parent_value": float(parent_value)}
    return None


def _headline(c: dict[str, Any]) -> str:
    """'Collapsed: perplexity rose from 38.6 to 41,605 (×1,078) — the model no longer works; …'."""
    name = c["name"]
    verb = "rose" if name in LOWER_IS_BETTER else "fell"
    if not math.isfinite(c["value"]):
        return f"Collapsed: {name} became {c['value']} (the parent's: {fmt_metric(name, c['parent_value'])}) — {WHY_NOT}"
    return (f"Collapsed: {name} {verb} from {fmt_metric(name, c['parent_value'])} to "
            f"{fmt_metric(name, c['value'])} ({c['change']}) — {WHY_NOT}")


def steps_of(method: str) -> list[tuple[str, dict[str, str]]]:
    """('structured_prune', {'target': 'ffn', 'amount': '0.25', …}) per step of a card's method text."""
    return [(name, dict(_ARG.findall(args))) for name, args in _STEP.findall(method or "")]


def _amount(args: dict[str, str]) -> float | None:
    try:
        return float(args["amount"])
    except (KeyError, ValueError):
        return None


def diagnose(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(likely cause, what to try) pairs for a collapsed variant, most likely first."""
    steps = steps_of(str(card.get("method") or ""))
    for (_, args), record in zip(steps, card.get("steps") or [], strict=False):
        if isinstance(record, dict) and isinstance(record.get("importance"), str):
            args["importance"] = record["importance"]  # what `auto` resolved to in that run
    pairs = _structured([args for name, args in steps if name == "structured_prune"],
                        card.get("task") == "causal-lm", bool(card.get("data")))
    for name, args in steps:
        if name in ("unstructured_prune", "magnitude_prune"):
            pairs += _unstructured(args)
        elif name == "nm_prune" and args.get("criterion", "magnitude") == "magnitude":
            pairs.append((f"N:M pruning ({args.get('n', '?')}:{args.get('m', '?')}) kept the "
                          "largest weights of each group by magnitude alone",
                          "criterion: taylor (data-aware)"))
    pairs += _training(card.get("train"))
    if not pairs:
        pairs.append(("the methods removed more than this model tolerates",
                      "lower the amounts, or run `workbench-cli sensitivity RECIPE` to see which "
                      "layers tolerate pruning"))
    return list(dict.fromkeys(pairs))


def _structured(steps: list[dict[str, str]], causal: bool, has_data: bool) -> list[tuple[str, str]]:
    """Magnitude importance (one pair for every step using it) and big single cuts."""
    magnitude = {UNITS.get(a.get("target", "ffn"), "units"): imp for a in steps
                 if (imp := _importance(a, causal, has_data)) in ("l1", "l2")}
    out = []
    if magnitude:
        kinds = "/".join(dict.fromkeys(magnitude.values()))
        why = (f"structured pruning ranked {' and '.join(magnitude)} by weight magnitude alone "
               f"(importance: {kinds})")
        if causal:  # on LMs the smallest weights are often the ones the model depends on
            why += ", which on a causal LM often removes units the model depends on"
        out.append((why, "importance: taylor (data-aware: ranks units by |w·dL/dw| on a few "
                         "training batches)"))
    cuts = [f"{amount:.0%} of the {UNITS.get(a.get('target', 'ffn'), 'units')}" for a in steps
            if (amount := _amount(a)) is not None and amount >= STRUCTURED_HIGH]
    if cuts:
        out.append((f"{' and '.join(cuts)} were removed in one step" + (" each" if len(cuts) > 1 else ""),
                    "lower the amount or prune gradually: several smaller steps with fine-tuning "
                    "between them"))
    return out


def _importance(args: dict[str, str], causal: bool, has_data: bool) -> str:
    """The ranking a structured step used. Cards written before importance was always named
    left out the default of the time (l1); auto is taylor on a causal LM with data, else l1."""
    importance = args.get("importance", "l1")
    if importance == "auto":
        return "taylor" if causal and has_data else "l1"
    return importance


def _unstructured(args: dict[str, str]) -> list[tuple[str, str]]:
    amount = _amount(args)
    if amount is None or amount < UNSTRUCTURED_HIGH or args.get("schedule", "oneshot") != "oneshot":
        return []
    return [(f"{amount:.0%} of the weights were set to zero at once",
             "lower the amount or prune gradually (schedule: gradual)")]


def _training(train: Any) -> list[tuple[str, str]]:
    steps = train.get("steps") if isinstance(train, dict) else None
    if not steps:
        return [("no fine-tuning after pruning (train.epochs: 0)",
                 "fine-tune after pruning (train.epochs: 1 or more, with data) so the remaining "
                 "weights make up for the removed ones")]
    if steps < SHORT_TRAINING:
        return [(f"only {steps} fine-tuning steps after pruning",
                 "fine-tune longer (raise train.max_steps or train.epochs)")]
    return []


def collapse_sentence(c: dict[str, Any] | None) -> str:
    """The flag as one verdict: headline, then 'Likely cause: …. Try: ….'; '' when not collapsed."""
    if not c or not c.get("collapsed"):
        return ""
    out = c["headline"]
    if c.get("causes"):
        out += " Likely cause: " + "; ".join(c["causes"]) + "."
    if c.get("advice"):
        out += " Try: " + "; ".join(c["advice"]) + "."
    return out


def collapse_lines(c: dict[str, Any] | None) -> list[str]:
    """The flag in plain lines: headline, likely cause, what to try, the threshold that fired."""
    if not c or not c.get("collapsed"):
        return []
    lines = [c["headline"]]
    if c.get("causes"):
        lines.append("likely cause: " + "; ".join(c["causes"]))
    if c.get("advice"):
        lines.append("try: " + "; ".join(c["advice"]))
    lines.append(f"flagged because {c['rule']}")
    return lines
