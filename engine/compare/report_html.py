"""Render and write the HTML report: one self-contained file (workbench-cli report, the
Compare page's Report button).

The page comes from the Jinja2 template next to this module (templates/report.html.j2),
autoescaped, fed by report_data; the plots are PNGs from report_plots embedded as base64
data: URIs, so the file opens anywhere, offline, and can be mailed as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.atomic_io import atomic_write_text
from engine.store import Variant, Workspace

TEMPLATE = "report.html.j2"


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def report_plots(ws: Workspace, variants: Sequence[Variant], data: dict[str, Any]) -> None:
    """Add the plots to `data`: the Pareto figures and each variant's training curves."""
    from engine.compare.report_plots import curves_png, pareto_png, pareto_points, report_metric

    metric = report_metric(variants)
    data["metric"], data["pareto"] = metric, []
    if metric:
        points = pareto_points(variants, metric)
        for axis, caption in (("latency", f"{metric} against ONNX latency p50"),
                              ("size", f"{metric} against ONNX file size")):
            png = pareto_png(points, metric, axis)
            if png is not None:
                data["pareto"].append({"png": _b64(png), "caption": caption})
    for v, entry in zip(variants, data["variants"], strict=True):
        png = curves_png(ws, v)
        entry["curves"] = _b64(png) if png is not None else None


def render_report(data: dict[str, Any]) -> str:
    """The HTML text of the report for report_data's dict (with its plots added)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**data)


def check_targets(ws: Workspace, variants: Sequence[Variant], targets: Sequence[str],
                  log: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """Check the variants' files against the named targets now (the cards stay as they are)."""
    from engine.deploy.checks import check_card
    from engine.deploy.targets import get_target

    profiles = [get_target(name, ws.root) for name in targets]  # ConfigError names the known ones
    return {v.id: check_card(v.card or {}, profiles, log) for v in variants
            if v.status == "finished" and profiles}


def build_report(ws: Workspace, variants: Sequence[Variant], targets: Sequence[str] = (),
                 log: Callable[[str], None] = lambda _m: None) -> str:
    """The report's HTML for these variants (in this order)."""
    from engine.compare.report_data import report_data

    if not variants:
        raise ValueError("a report needs at least one variant (workbench-cli list shows them)")
    extra = check_targets(ws, variants, targets, log) if targets else {}
    log("gathering the cards, recipes and lineage")
    data = report_data(ws, variants, extra)
    log("drawing the plots")
    report_plots(ws, variants, data)
    return render_report(data)


def write_report(ws: Workspace, variants: Sequence[Variant], out: str | Path,
                 targets: Sequence[str] = (), log: Callable[[str], None] = lambda _m: None) -> Path:
    """Write the report to `out` (replaced atomically: a reader never sees half a file)."""
    out = Path(out).expanduser()
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}")
    html = build_report(ws, variants, targets, log)
    try:
        atomic_write_text(out, html)
        out.chmod(0o644)  # a report is for sharing (the atomic write's temp file is owner-only)
        return out
    except OSError as exc:
        raise ValueError(f"cannot write the report to {out} ({exc.strerror or exc}); choose "
                         "a folder you can write to") from exc
