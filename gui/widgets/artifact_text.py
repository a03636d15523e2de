"""Plain-words lines for one deployable file of a card (`card["artifacts"]` entries).

Kept apart from the tiles so the wording can be tested and reused (Compare page, reports)
without building widgets.
"""

from __future__ import annotations

import html
import math
from typing import Any

from engine.metric_text import fmt_metric

GOOD, BAD, WARN, MUTED = "#2e7d32", "#c62828", "#b26a00", "#666"
FASTER_FROM = 1.05  # the did-it-shrink verdict's line: below it a file is not called faster


def _num(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def kind_title(kind: str) -> str:
    """'onnx-int8-dynamic' -> 'int8 dynamic'; the fp32 file says it is the reference."""
    name = kind.removeprefix("onnx-").replace("-", " ")
    return "fp32 (the exported file)" if name == "fp32" else name


def metric_pair(art: dict[str, Any]) -> tuple[str, float] | None:
    """('accuracy' | 'perplexity' | 'loss', value) measured on this file in onnxruntime."""
    metrics = art.get("metrics") or {}
    for name in ("accuracy", "perplexity", "loss"):
        value = _num(metrics.get(name))
        if value is not None:
            return name, value
    return None


def _span(text: str, color: str, bold: bool = True) -> str:
    weight = "; font-weight:600" if bold else ""
    return f"<span style='color:{color}{weight}'>{text}</span>"


def size_text(art: dict[str, Any], fp32: dict[str, Any]) -> str:
    size, base = _num(art.get("size_bytes")), _num(fp32.get("size_bytes"))
    if size is None:
        return _span("not measured", MUTED, False)
    text = f"<b>{size / 1e6:.2f} MB</b>"
    if base and art is not fp32:
        ratio = size / base
        text += " · " + _span(f"{ratio:.2f}× fp32", GOOD if ratio < 0.95 else MUTED)
    return text


def _ratio(value: float | None, what: str) -> str:
    if value is None:
        return ""
    color = GOOD if value >= FASTER_FROM else BAD if value < 1 / FASTER_FROM else MUTED
    return _span(f"{value:.2f}× {what}", color)


def latency_text(art: dict[str, Any], is_fp32: bool) -> str:
    """p50/p95 at the timed shape, then the side-by-side speed ratios."""
    p50, p95 = _num(art.get("latency_ms_p50")), _num(art.get("latency_ms_p95"))
    if p50 is None:
        return _span("not measured", MUTED, False)
    shape = art.get("latency_shape") or []
    text = f"<b>p50 {p50:.2f} ms</b>" + (f" · p95 {p95:.2f} ms" if p95 is not None else "")
    ratios = [] if is_fp32 else [_ratio(_num(art.get("speedup_vs_fp32")), "fp32's speed")]
    ratios.append(_ratio(_num(art.get("speedup_vs_parent")), "the parent's"))
    ratios = [r for r in ratios if r]
    if ratios:
        text += "<br>" + " · ".join(ratios)
    threads = art.get("threads")
    where = "×".join(str(d) for d in shape) if shape else "?"
    timed = "timed side by side, " if ratios else ""
    text += "<br>" + _span(f"{timed}input {where}, {threads or '?'} threads, "
                           f"{html.escape(str(art.get('provider') or '?'))}", MUTED, False)
    return text


def metric_text(art: dict[str, Any], fp32: dict[str, Any]) -> str:
    """This file's own metric (run in onnxruntime) next to the fp32 file's."""
    own = metric_pair(art)
    if own is None:
        return _span("not measured (no validation data)", MUTED, False)
    name, value = own
    text = f"{name} <b>{fmt_metric(name, value)}</b>"
    base = metric_pair(fp32)
    if art is not fp32 and base is not None and base[0] == name:
        text += _span(f" vs fp32 {fmt_metric(name, base[1])}", MUTED, False)
    return text + _span(" (this file, in onnxruntime)", MUTED, False)


def parity_text(art: dict[str, Any]) -> str:
    """Cosine, top-1 agreement and max |diff| against what the file was compared with."""
    parts = []
    cos, top1, diff = (_num(art.get(k)) for k in ("cosine", "top1_agreement", "max_abs_diff"))
    if cos is not None:
        parts.append(_span(f"cosine {cos:.4f}", GOOD if cos >= 0.99 else WARN))
    if top1 is not None:
        parts.append(_span(f"top-1 {top1:.1%}", GOOD if top1 >= 0.99 else WARN))
    if diff is not None:
        parts.append(f"max|diff| {diff:.2e}")
    against = {"pytorch": "PyTorch", "onnx-fp32": "the fp32 file"}.get(
        str(art.get("agreement_against")), str(art.get("agreement_against") or ""))
    if not parts:
        return _span("not measured", MUTED, False)
    return " · ".join(parts) + (_span(f" vs {html.escape(against)}", MUTED, False) if against else "")


def checker_text(art: dict[str, Any]) -> str:
    if art.get("checker_ok"):
        return _span("✔ passed", GOOD)
    message = str(art.get("checker_message") or "failed")
    short = message if len(message) <= 160 else message[:157] + "…"
    return _span("✘ ", BAD) + html.escape(short)


def verdict_for(
    art: dict[str, Any], shrink: dict[str, Any] | None, nth: int = 0
) -> dict[str, Any] | None:
    """The did-it-shrink entry (card["shrink"]["artifacts"]) for the nth file of this kind."""
    entries = [e for e in (shrink or {}).get("artifacts") or [] if e.get("kind") == art.get("kind")]
    return entries[nth] if nth < len(entries) else None


def truth_lines(art: dict[str, Any], entry: dict[str, Any] | None) -> list[str]:
    """Why it is (not) faster, then the method's notes: plain lines, none repeated."""
    lines: list[str] = []
    for line in [*((entry or {}).get("reasons") or art.get("reasons") or []), *(art.get("notes") or [])]:
        if line and line not in lines:
            lines.append(str(line))
    if art.get("error"):
        lines.insert(0, f"error: {art['error']}")
    return lines


def verdict_text(entry: dict[str, Any] | None) -> tuple[str, str]:
    """(verdict without its 'onnx-…:' prefix, colour) for the tile's headline."""
    if not entry:
        return "", MUTED
    text = str(entry.get("verdict") or "")
    text = text.split(": ", 1)[1] if text.startswith("onnx-") and ": " in text else text
    good = "faster" in text and "not faster" not in text
    return text, GOOD if good else WARN
