""""Did it really shrink and speed up?" for each deployable file on a card: every quantized
(or fp16) file against the variant's own fp32 file and against the parent's fp32 file.

The speed ratios come from engine.export.artifact_report, which timed all the files side
by side in one process; the size ratios from the files on disk.
"""

from __future__ import annotations

from typing import Any

from engine.shrink_verdict import size_direction, speed_phrase

FP32_KIND = "onnx-fp32"


def _size_words(ratio: float | None, what: str) -> str | None:
    if ratio is None:
        return None
    way = size_direction(ratio)
    word = {"smaller": "smaller", "larger": "LARGER"}.get(way, "about the same size")
    return f"{ratio:.2f}× the size of {what} ({word})"


def _metric_words(a: dict[str, Any], fp32: dict[str, Any]) -> list[str]:
    """The file's own metric (run in onnxruntime) next to the fp32 file's, and its agreement."""
    out = []
    for name, value in (a.get("metrics") or {}).items():
        ref = (fp32.get("metrics") or {}).get(name)
        if name == "loss" or not isinstance(value, (int, float)):
            continue
        shown = f"{value:.2%}" if name == "accuracy" else f"{value:.4g}"
        if isinstance(ref, (int, float)):
            shown += f" vs {ref:.2%}" if name == "accuracy" else f" vs {ref:.4g}"
        out.append(f"{name} {shown} for the fp32 file (run in onnxruntime)")
    if a.get("cosine") is not None:
        out.append(f"output cosine {a['cosine']:.4f}, top-1 agreement "
                   f"{a.get('top1_agreement') or 0:.2%} vs fp32")
    return out


def _speed_vs(speedup: float, what: str) -> str:
    """'1.50× faster than X' / 'about as fast as X (1.02×)'."""
    words = speed_phrase(speedup)
    if words.startswith("about as fast"):
        return f"about as fast as {what} ({speedup:.2f}×)"
    return f"{words} than {what}"


def _artifact_line(a: dict[str, Any], fp32: dict[str, Any], parent_bytes: float | None) -> dict[str, Any]:
    """Ratios and a one-line verdict for one artifact."""
    size = a.get("size_bytes")
    vs_fp32 = size / fp32["size_bytes"] if size and fp32.get("size_bytes") else None
    vs_parent = size / parent_bytes if size and parent_bytes else None
    s_fp32, s_parent = a.get("speedup_vs_fp32"), a.get("speedup_vs_parent")
    parts = [p for p in (_size_words(vs_fp32, "the variant's fp32 file"),
                         _size_words(vs_parent, "the parent's fp32 file")) if p]  # fmt: skip
    if s_fp32 is not None:
        parts.append(_speed_vs(s_fp32, "the fp32 file"))
    if s_parent is not None:
        parts.append(_speed_vs(s_parent, "the parent"))
    parts += _metric_words(a, fp32)
    faster = s_fp32 is not None and s_fp32 > 1.05
    smaller = vs_fp32 is not None and size_direction(vs_fp32) == "smaller"
    if a.get("error"):
        verdict = f"{a['kind']}: could not be measured ({a['error']})"
    elif smaller and faster:
        verdict = f"{a['kind']}: smaller and faster (measured side by side)"
    elif smaller:
        verdict = f"{a['kind']}: smaller, but not faster here" + (
            " - see why below" if a.get("reasons") else "")
    else:
        verdict = f"{a['kind']}: not smaller than the fp32 file"
    return {
        "kind": a["kind"], "size_ratio_vs_fp32": vs_fp32, "size_ratio_vs_parent": vs_parent,
        "speedup_vs_fp32": s_fp32, "speedup_vs_parent": s_parent, "verdict": verdict,
        "measured": "; ".join(parts), "reasons": list(a.get("reasons") or []),
    }  # fmt: skip


def artifact_reports(card: dict[str, Any], parent_card: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One report per non-fp32 artifact of `card`, in card order (empty without artifacts)."""
    entries = [a for a in card.get("artifacts") or [] if isinstance(a, dict)]
    fp32 = next((a for a in entries if a.get("kind") == FP32_KIND), None)
    if fp32 is None:
        return []
    parent_bytes = ((parent_card or {}).get("onnx") or {}).get("size_bytes")
    return [_artifact_line(a, fp32, parent_bytes) for a in entries if a is not fp32]


def side_by_side_latency(card: dict[str, Any]) -> tuple[float, float, float] | None:
    """(variant fp32 p50, parent fp32 p50, paired speed-up) timed side by side in the deploy
    stage, if it was; the speed-up is the median of each round's own ratio."""
    fp32 = next((a for a in card.get("artifacts") or []
                 if isinstance(a, dict) and a.get("kind") == FP32_KIND), None)  # fmt: skip
    if not fp32 or not fp32.get("latency_ms_p50") or not fp32.get("parent_latency_ms_p50"):
        return None
    p50, parent = float(fp32["latency_ms_p50"]), float(fp32["parent_latency_ms_p50"])
    return p50, parent, float(fp32.get("speedup_vs_parent") or parent / p50)
