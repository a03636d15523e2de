"""The sensitivity dialog's words: its levels field parsed, a result's status, a proposal's summary."""

from __future__ import annotations

from engine.sensitivity import (
    SensitivityResult,
    check_levels,
    noise_summary,
    overall_sparsity,
    sensitivity_score,
    within_noise,
)
from gui.widgets.live_plots import strip_common_prefix


def parse_levels(text: str) -> list[float]:
    """The levels field ("0.3, 0.5, 0.9") as checked sparsities; ValueError with the fix otherwise."""
    try:
        return check_levels([float(x) for x in text.replace(" ", "").split(",") if x])
    except ValueError as exc:
        msg = str(exc) if "level" in str(exc) else "levels must be numbers such as 0.3, 0.5, 0.9"
        raise ValueError(msg) from None


def result_status(result: SensitivityResult) -> str:
    """One line on what was measured: layers × levels, batches, time, baseline and noise."""
    batches = result.extra.get("batches", result.eval_batches or "all")
    return (
        f"{len(result.curves)} layers × {len(result.levels)} levels on {batches} validation "
        f"batches in {result.seconds:.1f}s · baseline {result.metric} {result.baseline:.4g}"
        f" · {noise_summary(result)}"
    )


def proposal_summary(result: SensitivityResult, proposal: dict[str, float]) -> str:
    """The proposal's overall sparsity and the three most sensitive layers (outside the noise)."""
    names = list(result.curves)
    short = strip_common_prefix(names)
    ranked = [n for n in sorted(names, key=lambda n: -sensitivity_score(result, n))
              if not within_noise(result, n)]  # fmt: skip
    spared = ", ".join(f"{short[names.index(n)]} {proposal[n]:.0%}" for n in ranked[:3])
    return (
        f"Proposal: {overall_sparsity(result, proposal):.1%} overall over {len(names)} layers"
        + (f" · most sensitive: {spared}" if spared else " · no layer stands out of the noise")
    )
