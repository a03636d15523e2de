"""Plain-text lines of target check results, shared by the CLI and the GUI's tooltips."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fmt_value(value: Any, unit: str = "") -> str:
    """'12.3 MB', '18', 'missing'; '-' when not measured."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit and not isinstance(value, str) else text


def requirement_line(r: Mapping[str, Any]) -> str:
    """'  FAIL  int8 weights: 0 int8 weight tensors (limit: int8 required) - needs int8 ...'."""
    line = (f"  {'PASS' if r['passed'] else 'FAIL'}  {r['name']}: "
            f"{fmt_value(r.get('measured'), r.get('unit', ''))} "
            f"(limit: {fmt_value(r.get('limit'), r.get('unit', ''))})")
    return line + (f" - {r['reason']}" if r.get("reason") else "")


def result_lines(res: Mapping[str, Any]) -> list[str]:
    """A file's verdict on one target, then one line per requirement."""
    head = f"{res['artifact']} on {res['target']}: {'PASS' if res['passed'] else 'FAIL'}"
    if res.get("proxy"):
        head += (f" (latency is a proxy: measured on this machine with {res.get('threads')} "
                 "threads)")
    return [head] + [requirement_line(r) for r in res.get("requirements") or []]


def card_check_lines(card: Mapping[str, Any]) -> list[str]:
    """`show`'s summary of the card's target checks: each file's verdict per target, with the
    failing requirements only (`check ID --target` prints them all)."""
    lines = []
    for res in card.get("target_checks") or []:
        lines.append("target " + result_lines(res)[0])
        lines += [requirement_line(r) for r in res.get("requirements") or [] if not r["passed"]]
    return lines
