"""The report's plots as PNG bytes, drawn with matplotlib's Agg backend (no Qt in the engine).

Pareto plots: every reported variant (its fp32 ONNX file) and each of its quantized files
as a point, metric against latency p50 or file size, the front from engine.compare.pareto
drawn as a step line and the dominated points dimmed, as the Compare page draws them.
Training curves: a run's metrics.jsonl (losses on the left, the validation metric right).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from engine.compare.pareto import lower_is_better, metric_front, staircase
from engine.metric_text import headline_metric
from engine.metrics_log import METRICS_FILE, read_metrics
from engine.store import Variant, Workspace

FP32_KIND = "onnx-fp32"
KIND_STYLE = {"variant": ("o", "#1f6fd1"), "onnx-int8-dynamic": ("^", "#7b1fa2"),
              "onnx-int8-static": ("s", "#00838f"), "onnx-int4": ("D", "#ad1457"),
              "onnx-fp16": ("*", "#6d4c41")}  # fmt: skip
OTHER_STYLE = ("p", "#546e7a")
AXES = {"latency": ("latency_ms_p50", "ONNX latency p50 (ms, lower is better)", 1.0),
        "size": ("size_bytes", "ONNX file size (MB, lower is better)", 1e-6)}  # fmt: skip
DPI = 110
# the report's look, applied per figure (never to the process's global matplotlib settings)
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}


@dataclass(frozen=True)
class Point:
    label: str
    kind: str  # "variant" or the artifact kind
    latency: float | None
    size: float | None
    value: float


def report_metric(variants: Sequence[Variant]) -> str | None:
    """The headline metric most of the variants have (accuracy, perplexity or loss)."""
    found = [m[0] for v in variants if (m := headline_metric(v.card or {}))]
    return Counter(found).most_common(1)[0][0] if found else None


def _num(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def pareto_points(variants: Sequence[Variant], metric: str) -> list[Point]:
    """Each finished variant's fp32 file, then its quantized files, measured on that file."""
    out = []
    for v in variants:
        card = v.card or {}
        value = _num(card.get("metrics") or {}, metric)
        onnx = card.get("onnx") or {}
        if v.status == "finished" and value is not None:
            out.append(Point(v.name, "variant", _num(onnx, "latency_ms_p50"),
                             _num(onnx, "size_bytes"), value))
        for a in card.get("artifacts") or []:
            kind = str(a.get("kind") or "") if isinstance(a, dict) else ""
            fvalue = _num(a.get("metrics") or {}, metric) if kind else None
            if kind in ("", FP32_KIND) or fvalue is None or a.get("error"):
                continue
            out.append(Point(f"{v.name} · {kind.removeprefix('onnx-')}", kind,
                             _num(a, "latency_ms_p50"), _num(a, "size_bytes"), fvalue))
    return out


def _figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas: no pyplot state, so a worker thread may draw it."""
    fig = Figure(figsize=(width, height), layout="constrained")  # same pixel size every time
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def pareto_png(points: Sequence[Point], metric: str, axis: str) -> bytes | None:
    """Metric vs `axis` ("latency" or "size") with the front; None when no point has both."""
    _key, xlabel, scale = AXES[axis]
    pts = [(p, getattr(p, axis) * scale) for p in points if getattr(p, axis) is not None]
    if not pts:
        return None
    front = set(metric_front([x for _, x in pts], [p.value for p, _ in pts], metric))
    with matplotlib.rc_context(STYLE):
        fig = _figure(5.2, 3.6)
        _draw_pareto(fig.subplots(), pts, front, metric, xlabel, axis)
        return _png(fig)


def _draw_pareto(ax: Any, pts: list[tuple[Point, float]], front: set[int], metric: str,
                 xlabel: str, axis: str) -> None:
    xs, ys = [x for _, x in pts], [p.value for p, _ in pts]
    middle = (min(xs) + max(xs)) / 2
    if len(front) > 1:
        sx, sy = staircase([(xs[i], ys[i]) for i in sorted(front)])
        ax.plot(sx, sy, color="#f57c00", lw=1.5, zorder=1, label="Pareto front")
    for i, (p, x) in enumerate(pts):
        marker, colour = KIND_STYLE.get(p.kind, OTHER_STYLE)
        on = i in front
        ax.scatter([x], [p.value], marker=marker, s=70 if on else 45, color=colour,
                   alpha=1.0 if on else 0.35, edgecolors="#f57c00" if on else "white",
                   linewidths=1.5 if on else 0.5, zorder=3)
        right = x > middle and len(pts) > 1  # labels point inwards, never off the figure
        ax.annotate(p.label, (x, p.value), textcoords="offset points",
                    xytext=(-7 if right else 7, 5), ha="right" if right else "left",
                    fontsize=7.5, color="#333" if on else "#999")
    ax.set_xlabel(xlabel)
    better = "lower" if lower_is_better(metric) else "higher"
    ax.set_ylabel(f"{metric} ({better} is better)")
    ax.set_title(f"{metric} vs {'latency' if axis == 'latency' else 'size'}")
    ax.margins(x=0.18, y=0.15)
    _kind_legend(ax, {p.kind for p, _ in pts}, len(front) > 1)


def _kind_legend(ax: Any, kinds: set[str], has_front: bool) -> None:
    """One legend entry per marker kind (and the front line), small, out of the way."""
    handles = [Line2D([], [], ls="", marker=KIND_STYLE.get(k, OTHER_STYLE)[0],
                          color=KIND_STYLE.get(k, OTHER_STYLE)[1],
                          label="variant (fp32)" if k == "variant" else k.removeprefix("onnx-"))
               for k in sorted(kinds, key=lambda k: (k != "variant", k))]
    if has_front:
        handles.append(Line2D([], [], color="#f57c00", label="Pareto front"))
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.85)


def _curve_groups(series: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(loss curves, validation metric curves) among a run's metric names."""
    losses = [n for n in series if n.startswith(("train/loss", "val/loss"))]
    metrics = [n for n in series if n.startswith("val/") and n not in losses]
    return sorted(losses), sorted(metrics)


def curves_png(ws: Workspace, v: Variant) -> bytes | None:
    """Training loss and validation metric curves of one run; None when it logged none."""
    log = read_metrics(Path(ws.run_dir(v.id)) / METRICS_FILE)
    losses, metrics = _curve_groups(log.series)
    if not losses and not metrics:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(9.6, 3.0)
        for ax, names, title in zip(fig.subplots(1, 2), (losses, metrics), ("loss", "validation metric"),
                                    strict=True):
            _draw_curves(ax, log.series, names, f"{v.name}: {title}")
        return _png(fig)


def _draw_curves(ax: Any, series: dict[str, Any], names: list[str], title: str) -> None:
    seen: set[float] = set()
    for name in names:
        steps, values = series[name]
        seen.update(float(s) for s in steps)
        ax.plot(steps, values, marker="o" if len(steps) < 12 else None, ms=4, lw=1.4, label=name)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    if 0 < len(seen) <= 3:  # a very short run: tick its steps, not 1.900 ... 2.100
        ax.set_xticks(sorted(seen))
    if names:
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    else:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", color="#999",
                transform=ax.transAxes)
