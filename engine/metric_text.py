"""How a metric is written and compared with a parent's: one format for every page and the CLI.

Accuracy reads as a percentage ("81.2%") and its changes in percentage points; the other
metrics (perplexity, loss) as four significant digits. The Run page, the Compare table,
the Export card and `workbench-cli show` all use these functions, so the same number never
looks different in two places.
"""

from __future__ import annotations

import math
from typing import Any

HEADLINE = ("accuracy", "perplexity", "loss")  # the metric a card is judged by, in this order
LOWER_IS_BETTER = frozenset({"perplexity", "loss", "train_loss"})
# A change larger than this is a real loss, not evaluation noise: accuracy in absolute
# points (1 point), perplexity and loss relative to the parent's value (2%).
ACCURACY_TOLERANCE = 0.01
RELATIVE_TOLERANCE = 0.02
MINUS = "\u2212"


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def fmt_metric(name: str, value: float) -> str:
    """'81.2%' for accuracy, '12.35' for perplexity / loss (four significant digits).

    From 10,000 up a perplexity is written whole with separators ('41,605'), never '4.16e+04';
    from a billion up (a diverged model) in powers of ten ('5.18e+21'), not 22 digits.
    """
    if not math.isfinite(value):
        return str(value)
    if name == "accuracy":
        return f"{value:.1%}"
    if abs(value) >= 1e9:
        return f"{value:.3g}"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def fmt_delta(name: str, delta: float) -> str:
    """A change of a metric: '−3.0 pts' for accuracy, '+1.24' / '−0.5' for the others."""
    if name == "accuracy":
        text = f"{delta * 100:+.1f} pts"
    elif abs(delta) >= 1000:
        text = f"{delta:+,.0f}"
    else:
        text = f"{delta:+.3g}"
    return text.replace("-", MINUS)


def headline_metric(card: dict[str, Any]) -> tuple[str, float] | None:
    """('accuracy', 0.91) or ('perplexity', 12.3), else ('loss', …), or None."""
    metrics = card.get("metrics") or {}
    for name in HEADLINE:
        value = _number(metrics.get(name))
        if value is not None:
            return name, value
    return None


def tolerance_text(name: str) -> str:
    """The tolerance in words, for verdicts and tooltips."""
    return "1 point" if name == "accuracy" else f"{RELATIVE_TOLERANCE:.0%}"


def compare_metric(card: dict[str, Any], parent_card: dict[str, Any] | None) -> dict[str, Any] | None:
    """The headline metric of `card` against the same metric of `parent_card`; None if either lacks it.

    `change` is 'lost' when it got worse beyond the tolerance, 'gained' when better beyond
    it, else 'kept'.
    """
    mine = headline_metric(card)
    if mine is None or parent_card is None:
        return None
    name, value = mine
    parent_value = _number((parent_card.get("metrics") or {}).get(name))
    if parent_value is None:
        return None
    delta = value - parent_value
    worse_by = delta if name in LOWER_IS_BETTER else -delta
    tol = ACCURACY_TOLERANCE if name == "accuracy" else RELATIVE_TOLERANCE * abs(parent_value)
    change = "lost" if worse_by > tol else "gained" if worse_by < -tol else "kept"
    return {
        "name": name,
        "value": value,
        "parent_value": parent_value,
        "delta": delta,
        "change": change,
        "text": f"{fmt_metric(name, value)} ({fmt_delta(name, delta)})",
    }


def loss_sentence(m: dict[str, Any]) -> str:
    """'accuracy fell from 32.5% to 22.5% (−10.0 pts)' / 'perplexity rose from … to …'."""
    verb = "rose" if m["name"] in LOWER_IS_BETTER else "fell"
    return (f"{m['name']} {verb} from {fmt_metric(m['name'], m['parent_value'])} to "
            f"{fmt_metric(m['name'], m['value'])} ({fmt_delta(m['name'], m['delta'])})")
