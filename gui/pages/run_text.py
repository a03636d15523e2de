"""Words and modes of the Run page: durations, the one-line result, which sparsity views fit."""

from __future__ import annotations

from engine.metric_text import fmt_metric
from engine.recipe import Recipe
from engine.registry import entry_for_config


def fmt_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min' ('' when unknown)."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def summary_text(summary: dict) -> str:
    """One line from a Finished summary: metrics, sparsity and ONNX latency."""
    parts = []
    for key, value in summary.items():
        if key.startswith("metrics.") and isinstance(value, (int, float)):
            name = key.split(".", 1)[1].replace("_", " ")
            parts.append(f"{name} {fmt_metric(name, value)}")
    sparsity = summary.get("sparsity.overall")
    if isinstance(sparsity, (int, float)) and sparsity > 0:  # 0 % says nothing (e.g. structured)
        parts.append(f"sparsity {sparsity:.1%}")
    latency = summary.get("onnx.latency_ms_p50")
    if isinstance(latency, (int, float)):
        parts.append(f"ONNX latency p50 {latency:.2f} ms")
    return " · ".join(parts)


def card_summary(card: dict) -> dict:
    """The Finished-event summary shape from a variant card (the process runner has it already)."""
    if any(k.startswith("metrics.") for k in card):
        return card
    out = {f"metrics.{k}": v for k, v in (card.get("metrics") or {}).items()}
    out["sparsity.overall"] = (card.get("sparsity") or {}).get("overall")
    out["onnx.latency_ms_p50"] = (card.get("onnx") or {}).get("latency_ms_p50")
    return out


def sparsity_mode(recipe: Recipe) -> str:
    """Sparsity views that fit the recipe: "masks" (zeros to count), "structured" or "none"."""
    structured = False
    for m in recipe.methods:
        try:
            entry = entry_for_config(m)
        except (KeyError, TypeError):  # unknown step: show the views rather than hide data
            return "masks"
        if entry.effect == "masks":
            return "masks"
        if entry.effect == "smaller":
            structured = True  # layers shrink: no zeros, only what each layer lost
    return "structured" if structured else "none"
