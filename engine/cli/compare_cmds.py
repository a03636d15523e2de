"""`workbench-cli compare A B`: two variants side by side.

What changed in the recipe, the card numbers next to each other (and did B shrink against
A), the layers that changed most, and the ONNX graph diff of their fp32 files (or the
artifact kind --graph names). Exit 2 with one line when a variant or artifact is not there.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.store import Variant, Workspace, default_workspace, strict_json

FP32_KIND = "onnx-fp32"
TOP_LAYERS = 12  # without --layers: the most changed layers only


def add_compare_command(sub: argparse._SubParsersAction) -> None:
    """Add the `compare` sub-command."""
    c = sub.add_parser("compare", help="two variants side by side: recipe diff, card numbers, "
                       "per-layer diff, ONNX graph diff")
    c.add_argument("a", help="run id or variant name (the reference)")
    c.add_argument("b", help="run id or variant name (compared with A)")
    c.add_argument("--json", action="store_true", help="print everything as one JSON object")
    c.add_argument("--layers", action="store_true",
                   help=f"every layer in the table (default: the {TOP_LAYERS} most changed)")
    c.add_argument("--graph", metavar="ARTIFACT", default=FP32_KIND,
                   help="artifact kind whose ONNX graphs are diffed: onnx-fp32 (default), "
                   "int8-dynamic, ... (workbench-cli show --json lists a variant's artifacts)")
    c.add_argument("--trust", action="store_true",
                   help="allow unpickling the variants' model files (only files you made yourself)")
    c.add_argument("--workspace", "-w", type=Path, help="workspace folder")
    c.set_defaults(func=cmd_compare)


def _variant(ws: Workspace, name_or_id: str) -> Variant:
    return ws.one(name_or_id)


def artifact_path(ws: Workspace, v: Variant, kind: str) -> Path | None:
    """The ONNX file of `kind` on v's card (moved workspaces: looked up in its run folder)."""
    card = v.card or {}
    paths = [a.get("path") for a in card.get("artifacts") or []
             if isinstance(a, dict) and a.get("kind") == kind]
    if kind == FP32_KIND:
        paths.append((card.get("onnx") or {}).get("path"))
    for p in (Path(str(p)) for p in paths if p):
        for candidate in (p, ws.run_dir(v.id) / p.name):
            if candidate.is_file():
                return candidate
    return None


def _kinds(v: Variant) -> list[str]:
    return [str(a.get("kind")) for a in (v.card or {}).get("artifacts") or [] if isinstance(a, dict)]


def graph_part(ws: Workspace, a: Variant, b: Variant, kind: str) -> tuple[Any, str | None, str]:
    """(GraphDiff or None, why not, the artifact kind). A kind neither variant has is bad input."""
    from engine.compare.graph_diff import graph_diff

    asked, known = kind, set(_kinds(a) + _kinds(b)) | {FP32_KIND}
    kind = kind if kind in known else f"onnx-{kind}"  # "int8-dynamic" names onnx-int8-dynamic
    if kind not in known:
        raise ValueError(f"--graph {asked}: neither variant has that artifact (they have: "
                         f"{', '.join(sorted(known))})")
    pa, pb = artifact_path(ws, a, kind), artifact_path(ws, b, kind)
    missing = [v.name for v, p in ((a, pa), (b, pb)) if p is None]
    if missing:
        return None, f"no {kind} ONNX file on {' and '.join(missing)} (export it to diff graphs)", kind
    return graph_diff(pa, pb), None, kind


def layers_part(ws: Workspace, a: Variant, b: Variant, trust: bool) -> tuple[list, str | None]:
    """(layer rows, why not): a model that cannot load is a note, not the end of the compare."""
    from engine.compare.layer_diff import variant_layer_diff
    from engine.config_fields import ConfigError

    try:
        return variant_layer_diff(ws, a, b, trust), None
    except (ConfigError, OSError, ValueError) as exc:
        return [], f"layers not compared: {exc}"


def card_rows(a: Variant, b: Variant) -> list[tuple[str, str, str]]:
    """(field, A, B) for the numbers the results table shows, plus FLOPs."""
    from engine.cli.format import _fmt_int, variant_row

    ra, rb = variant_row(a), variant_row(b)
    rows = [(k, ra[k], rb[k]) for k in ra if k not in ("id", "name")]
    flops = [_fmt_int(((v.card or {}).get("model") or {}).get("flops")) for v in (a, b)]
    return rows + [("FLOPs", *flops)]


def _shrink(a: Variant, b: Variant) -> dict[str, Any] | None:
    from engine.shrink import shrink_report

    if a.status != "finished" or b.status != "finished":
        return None
    against = "parent" if b.parent == a.id else f"variant {a.name}"
    return shrink_report(b.card, a.card, against)


def compare_record(ws: Workspace, a: Variant, b: Variant, graph_kind: str = FP32_KIND,
                   all_layers: bool = False, trust: bool = False) -> dict[str, Any]:
    """Everything `compare` shows, as one JSON-able record (what --json prints; the GUI's
    diff view shows the same record)."""
    from engine.compare.layer_diff import top_changes
    from engine.compare.recipe_diff import recipe_diff, stored_recipe

    changes = recipe_diff(stored_recipe(a.recipe), stored_recipe(b.recipe))
    graph, graph_note, kind = graph_part(ws, a, b, graph_kind)
    rows, layer_note = layers_part(ws, a, b, trust)
    shown = rows if all_layers else top_changes(rows, TOP_LAYERS)
    return {
        "a": {"id": a.id, "name": a.name, "status": a.status},
        "b": {"id": b.id, "name": b.name, "status": b.status},
        "recipe": [c.as_dict() for c in changes],
        "card": [{"field": f, "a": x, "b": y} for f, x, y in card_rows(a, b)],
        "shrink": _shrink(a, b),
        "layers": [r.as_dict() | {"removed": r.removed_text} for r in shown],
        "layers_changed": len(top_changes(rows, None)), "layers_total": len(rows),
        "graph": graph.as_dict() | {"artifact": kind} if graph is not None else None,
        "notes": [n for n in (layer_note, graph_note) if n],
    }


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the comparison of variants A and B (or --json)."""
    ws = Workspace(args.workspace or default_workspace())
    a, b = _variant(ws, args.a), _variant(ws, args.b)
    record = compare_record(ws, a, b, args.graph, args.layers, args.trust)
    if args.json:
        print(strict_json(record, indent=2))
    else:
        from engine.cli.compare_text import compare_text

        print(compare_text(record))
    return 0
