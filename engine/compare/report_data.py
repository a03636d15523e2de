"""What an HTML report on some variants shows, gathered as plain JSON-able data.

Everything comes from the workspace as the runs left it: the cards (numbers measured by the
export and deploy stages, the stored target checks), the stored recipes (shown as the
settings that differ from the defaults, and as recipe diffs between the variants), the
lineage tree and each run's metrics.jsonl. Nothing is re-measured here except the deployment
targets the caller names (`targets`), which are checked on the variants' files as
`workbench-cli check ID --target NAME` does, without changing the cards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.cli.format import variant_row
from engine.compare.flowchart import node_dicts, recipe_flow
from engine.compare.lineage import Node, lineage, method_summary, node_parts
from engine.compare.recipe_diff import fmt_value, recipe_diff, stored_recipe
from engine.compare.report_recipe import readable_recipe
from engine.compare.report_system import environment
from engine.deploy.text import fmt_value as check_value
from engine.metric_text import fmt_metric, headline_metric
from engine.store import Variant, Workspace

FP32_KIND = "onnx-fp32"
SUMMARY_COLUMNS = ("status", "params", "nonzero", "sparsity", "metric", "onnx MB", "p50 ms")


def _num(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


def _fmt(value: Any, pattern: str, missing: str = "–") -> str:
    n = _num(value)
    return pattern.format(n) if n is not None else missing


def _metric_text(entry: dict[str, Any]) -> str:
    found = headline_metric(entry)
    return f"{found[0]} {fmt_metric(*found)}" if found else "–"


def artifact_rows(card: dict[str, Any]) -> list[dict[str, str]]:
    """Each deployable file with the numbers measured on that file itself."""
    rows = []
    for a in card.get("artifacts") or []:
        if not isinstance(a, dict) or not a.get("kind"):
            continue
        size = _num(a.get("size_bytes"))
        rows.append({
            "kind": str(a["kind"]), "file": Path(str(a.get("path") or "")).name,
            "size": f"{size / 1e6:.2f} MB" if size is not None else "–",
            "p50": _fmt(a.get("latency_ms_p50"), "{:.2f} ms"),
            "p95": _fmt(a.get("latency_ms_p95"), "{:.2f} ms"),
            "metric": _metric_text(a),
            "agreement": _fmt(a.get("top1_agreement"), "{:.1%}"),
            "speedup": _fmt(a.get("speedup_vs_fp32"), "{:.2f}×"),
            "error": str(a.get("error") or ""),
        })  # fmt: skip
    return rows


def check_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Target check results as the report's tables write them (values with their units)."""
    out = []
    for res in results:
        reqs = [{"name": r.get("name", "?"), "passed": bool(r.get("passed")),
                 "measured": check_value(r.get("measured"), r.get("unit", "")),
                 "limit": check_value(r.get("limit"), r.get("unit", "")),
                 "reason": "" if r.get("passed") else str(r.get("reason") or "")}
                for r in res.get("requirements") or [] if isinstance(r, dict)]
        out.append({"target": str(res.get("target", "?")), "artifact": str(res.get("artifact", "?")),
                    "passed": bool(res.get("passed")), "proxy": bool(res.get("proxy")),
                    "threads": res.get("threads"), "requirements": reqs})
    return out


def _facts(v: Variant) -> list[tuple[str, str]]:
    """The card's headline numbers as (label, text); missing ones are left out."""
    card = v.card or {}
    row = variant_row(v)
    onnx, train = card.get("onnx") or {}, card.get("train") or {}
    metric = headline_metric(card)
    facts = [(metric[0], fmt_metric(*metric)) if metric else ("metric", "-"), ("parameters", row["params"]),
             ("non-zero", row["nonzero"]), ("sparsity", row["sparsity"]),
             ("ONNX size", f"{row['onnx MB']} MB" if row["onnx MB"] != "-" else "-"),
             ("latency p50", f"{row['p50 ms']} ms" if row["p50 ms"] != "-" else "-"),
             ("latency p95", _fmt(onnx.get("latency_ms_p95"), "{:.2f} ms", "-")),
             ("FLOPs", _fmt(((card.get("model") or {}).get("flops") or 0) / 1e6 or None,
                            "{:.1f} M", "-")),
             ("training", f"{train['steps']} steps, {train.get('seconds', 0):.1f} s"
              if _num(train.get("steps")) else "-")]
    return [(k, val) for k, val in facts if val and val != "-"]


def _flow(v: Variant) -> tuple[list[dict[str, Any]], str]:
    """(flowchart nodes, why not): a recipe that no longer parses has no drawing."""
    try:
        return node_dicts(recipe_flow(stored_recipe(v.recipe))), ""
    except Exception as exc:  # a stored recipe from an older version or hand-edited
        return [], f"the stored recipe does not parse any more: {str(exc).splitlines()[0][:200]}"


def variant_entry(ws: Workspace, v: Variant, extra_checks: Sequence[dict[str, Any]] = ()
                  ) -> dict[str, Any]:
    """One variant's section of the report."""
    card = v.card or {}
    flow, flow_note = _flow(v)
    parent = _parent_name(ws, v.parent)
    return {
        "id": v.id, "name": v.name, "status": v.status, "parent": v.parent,
        "parent_name": parent, "method": method_summary(v) or "–",
        "error": v.error or (f"files missing: {v.missing}" if v.missing else ""),
        "facts": _facts(v), "verdict": str((card.get("shrink") or {}).get("verdict") or ""),
        "notes": _notes(card),
        "artifacts": artifact_rows(card), "recipe": readable_recipe(v.recipe),
        "flow": flow, "flow_note": flow_note,
        "checks": check_rows([*(card.get("target_checks") or []), *extra_checks]),
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created)) if v.created else "",
    }  # fmt: skip


def _notes(card: dict[str, Any]) -> list[str]:
    """What the run noted on its card: each step's notes, then its warnings."""
    notes = [f"Step {s.get('step', '?')}: {n}" for s in card.get("steps") or []
             if isinstance(s, dict) for n in s.get("notes") or []]
    return notes + [f"Warning: {w}" for w in card.get("warnings") or []]


def _parent_name(ws: Workspace, parent: str | None) -> str:
    if not parent:
        return ""
    try:
        return ws.get(parent).name
    except KeyError:
        return f"{parent} (deleted)"


def _cell(value: Any, kind: str) -> str:
    """A diff table cell: a whole step's label as it is, a setting as recipes write it."""
    if value is None and kind != "changed":
        return ""  # the side a step was added to or removed from
    return value if isinstance(value, str) and kind != "changed" else fmt_value(value)


def recipe_diffs(variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """For each variant after the first: what changed against its parent when the report has
    it, else against the first variant (the reference)."""
    ids = {v.id: v for v in variants}
    out = []
    for v in variants[1:]:
        ref = ids.get(v.parent or "") or variants[0]
        try:
            changes = recipe_diff(stored_recipe(ref.recipe), stored_recipe(v.recipe))
        except Exception as exc:  # an unparsable stored recipe: say so in its place
            out.append({"a": ref.name, "b": v.name, "changes": [], "note": str(exc)[:200]})
            continue
        out.append({"a": ref.name, "b": v.name, "note": "", "changes": [
            {"kind": c.kind, "path": c.path, "text": c.text,
             "before": _cell(c.before, c.kind), "after": _cell(c.after, c.kind)} for c in changes]})
    return out


def _tree_dict(n: Node, reported: set[str]) -> dict[str, Any]:
    return {"kind": n.kind, "id": n.id, "status": n.status, "parts": node_parts(n),
            "reported": n.id in reported, "error": n.error or "",
            "children": [_tree_dict(c, reported) for c in n.children]}


def _ids_below(n: Node) -> set[str]:
    return {n.id}.union(*(_ids_below(c) for c in n.children))


def lineage_trees(ws: Workspace, variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """The lineage trees that hold a reported variant, reported ones marked."""
    reported = {v.id for v in variants}
    return [_tree_dict(r, reported) for r in lineage(ws) if _ids_below(r) & reported]


def summary_rows(variants: Sequence[Variant]) -> list[dict[str, str]]:
    """The results table (the CLI's `list` columns) for the reported variants."""
    return [{"name": v.name, "id": v.id, "method": method_summary(v) or "–",
             **{c: variant_row(v)[c] for c in SUMMARY_COLUMNS}} for v in variants]


def report_data(ws: Workspace, variants: Sequence[Variant],
                extra_checks: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Everything the report shows except the plots (report_plots draws those)."""
    extra = extra_checks or {}
    names = ", ".join(v.name for v in variants)
    return {
        "title": f"Variant report: {names}" if len(names) < 80 else
                 f"Variant report: {len(variants)} variants",
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "workspace": str(ws.root),
        "columns": SUMMARY_COLUMNS, "summary": summary_rows(variants),
        "variants": [variant_entry(ws, v, extra.get(v.id, ())) for v in variants],
        "diffs": recipe_diffs(variants), "lineage": lineage_trees(ws, variants),
        "environment": environment(),
    }  # fmt: skip
