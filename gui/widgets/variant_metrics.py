"""Reading the numbers the GUI shows out of a variant card (engine.report's dict)."""

from __future__ import annotations

from typing import Any

PRIMARY_METRICS = ("accuracy", "perplexity")  # the one headline metric per task
LOWER_IS_BETTER = {"perplexity", "loss"}
PARITY_TOLERANCE = 1e-3  # max |ONNX - PyTorch| above this is shown as a failure


def primary_metric(card: dict[str, Any]) -> tuple[str, float] | None:
    """('accuracy', 0.91) or ('perplexity', 12.3) — whichever the card has; else loss or None."""
    metrics = card.get("metrics") or {}
    for name in (*PRIMARY_METRICS, "loss"):
        value = metrics.get(name)
        if isinstance(value, (int, float)):
            return name, float(value)
    return None


def metric_value(card: dict[str, Any], name: str) -> float | None:
    """One named metric as a float, or None when the card lacks it."""
    value = (card.get("metrics") or {}).get(name)
    return float(value) if isinstance(value, (int, float)) else None


def metric_label(name: str) -> str:
    """Axis/column label that says which way is better."""
    return f"{name} ({'lower' if name in LOWER_IS_BETTER else 'higher'} is better)"


def onnx_number(card: dict[str, Any], key: str) -> float | None:
    """A number from the card's `onnx` section, or None when absent/not exported."""
    value = (card.get("onnx") or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def model_number(card: dict[str, Any], key: str) -> float | None:
    """A number from the card's `model` section (params, nonzero_params, size_bytes, flops)."""
    value = (card.get("model") or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None
