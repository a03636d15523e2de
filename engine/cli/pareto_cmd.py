"""`workbench-cli pareto [--axis latency|size] [--json]`: the Compare page's Plot tab as a table.

The same points the Compare page and the HTML report draw (each finished variant's fp32 ONNX
file and each of its quantized files, engine.compare.report_plots.pareto_points) and the same
front (engine.compare.pareto.metric_front): front points first, then the dominated ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

AXIS_KEYS = {"latency": ("latency", "p50 ms", 1.0), "size": ("size", "MB", 1e-6)}


def pareto_rows(ws: Any, axis: str, metric: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """(metric, rows): every point with a measured `axis` value, front first, then by axis."""
    from engine.compare.pareto import metric_front
    from engine.compare.report_plots import pareto_points, report_metric

    variants = ws.variants(status="finished")
    metric = metric or report_metric(variants)
    if metric is None:
        raise ValueError(f"no finished variant in {ws.root} has a metric yet (run a recipe with data)")
    attr, unit, scale = AXIS_KEYS[axis]
    points = [p for p in pareto_points(variants, metric) if getattr(p, attr) is not None]
    if not points:
        raise ValueError(f"no variant in {ws.root} has a measured {metric} and ONNX {axis} "
                         "(export them: workbench-cli export VARIANT)")
    xs = [getattr(p, attr) * scale for p in points]
    front = set(metric_front(xs, [p.value for p in points], metric))
    rows = [{"label": p.label, "kind": p.kind, f"{axis} ({unit})": x, metric: p.value,
             "on_front": i in front} for i, (p, x) in enumerate(zip(points, xs, strict=True))]
    rows.sort(key=lambda r: (not r["on_front"], r[f"{axis} ({unit})"]))
    return metric, rows


def cmd_pareto(args: argparse.Namespace) -> int:
    """Print the points and which are on the Pareto front (or --json)."""
    from engine.cli.export_cmd import open_existing_workspace

    metric, rows = pareto_rows(open_existing_workspace(args.workspace), args.axis, args.metric)
    if args.json:
        print(json.dumps({"metric": metric, "axis": args.axis, "points": rows}, indent=2))
        return 0
    x_col = next(k for k in rows[0] if k.startswith(args.axis))
    width = max(len("point"), *(len(r["label"]) for r in rows))
    print(f"{'point'.ljust(width)}  {x_col:>14}  {metric:>12}  front")
    for r in rows:
        print(f"{r['label'].ljust(width)}  {r[x_col]:>14.4g}  {r[metric]:>12.4g}  "
              f"{'yes' if r['on_front'] else '-'}")
    return 0


def add_pareto_command(sub: argparse._SubParsersAction) -> None:
    """Add the `pareto` sub-command (the Compare page's Plot tab)."""
    pa = sub.add_parser("pareto", help="metric vs ONNX latency or size over every variant and "
                        "quantized file, with the Pareto front, as the Compare page plots it")
    pa.add_argument("--axis", choices=tuple(AXIS_KEYS), default="latency",
                    help="the cost axis (default latency p50)")
    pa.add_argument("--metric", help="the metric axis (default: the one most variants have)")
    pa.add_argument("--json", action="store_true")
    pa.add_argument("--workspace", "-w", type=Path, help="workspace folder")
    pa.set_defaults(func=cmd_pareto)
