"""Text output for the CLI: a one-line progress bar and the results table."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from engine.events import Event, Failed, Finished, Log, Progress, StageStarted
from engine.metric_text import fmt_metric, headline_metric
from engine.store import Variant


class ProgressPrinter:
    """Redraws one status line on a terminal; prints plain lines otherwise."""

    def __init__(self, stream: IO[str] = sys.stderr, width: int = 28):
        self.stream = stream
        self.width = width
        self.tty = getattr(stream, "isatty", lambda: False)()
        self._last = 0.0
        self._stage = ""

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self._stage = event.stage
            self._line(f"== {event.stage}: {event.message}")
        elif isinstance(event, Log):
            self._line(
                f"[{event.level}] {event.message}" if event.level != "info" else event.message
            )
        elif isinstance(event, Progress):
            now = time.monotonic()
            if now - self._last < (0.1 if self.tty else 2.0) and event.fraction < 1.0:
                return
            self._last = now
            filled = int(self.width * event.fraction)
            eta = f" ETA {event.eta_s:4.0f}s" if event.eta_s is not None else ""
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {event.fraction:4.0%}{eta} {event.message}"
            if self.tty:
                self.stream.write("\r" + bar[:120].ljust(120))
                self.stream.flush()
            else:
                self._line(bar)
        elif isinstance(event, (Finished, Failed)):
            if self.tty:
                self.stream.write("\n")

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 120 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()


def _metric(card: dict[str, Any]) -> str:
    """'accuracy 81.2%' / 'perplexity 12.35': the headline metric, as every page writes it."""
    found = headline_metric(card)
    return f"{found[0]} {fmt_metric(*found)}" if found else "-"


def _fmt_int(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(int(n))


def stored_collapse(card: dict[str, Any]) -> bool:
    """The collapse flag the run recorded on its card (against its parent, when it finished)."""
    return bool(((card.get("shrink") or {}).get("collapse") or {}).get("collapsed"))


def _status(v: Variant, collapsed: bool | None = None) -> str:
    """The status as a reader must see it: files gone, collapsed, or finished with warnings."""
    if v.missing:
        return f"{v.status}, files missing"
    card = v.card or {}
    if v.status != "finished":
        return v.status
    parts = ["finished"]
    if stored_collapse(card) if collapsed is None else collapsed:
        parts.append("collapsed")  # its metric is far worse than its parent's
    warnings = card.get("warnings") or []
    if warnings:
        parts.append(f"{len(warnings)} warning" + ("s" if len(warnings) > 1 else ""))
    return ", ".join(parts)


def variant_row(v: Variant, collapsed: bool | None = None) -> dict[str, str]:
    """The columns the CLI table and the compare page share, as text.

    `collapsed`: the collapse flag against the variant's fair parent when the caller has it
    (the Compare page), else the one stored on the card.
    """
    c = v.card or {}
    model = c.get("model") or {}
    onnx = c.get("onnx") or {}
    sp = (c.get("sparsity") or {}).get("overall")
    lat = onnx.get("latency_ms_p50")
    size = onnx.get("size_bytes")
    return {
        "id": v.id,
        "name": v.name,
        "parent": v.parent or "-",
        "status": _status(v, collapsed),
        "method": c.get("method", "-"),
        "params": _fmt_int(model.get("params")),
        "nonzero": _fmt_int(model.get("nonzero_params")),
        "sparsity": f"{sp:.1%}" if isinstance(sp, float) else "-",
        "metric": _metric(c),
        "onnx MB": f"{size / 1e6:.2f}" if size else "-",
        "p50 ms": f"{lat:.2f}" if lat else "-",
    }


def results_table(variants: list[Variant]) -> str:
    rows = [variant_row(v) for v in variants]
    if not rows:
        return ""
    cols = [c for c in rows[0] if c != "method"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines.append("  ".join("-" * widths[c] for c in cols))
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)
