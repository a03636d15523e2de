"""`workbench-cli tree [-w WS] [--json]`: the workspace's variants as a lineage tree.

    tiny-gpt (base) · baseline · 3.8 MB · 7.1 ms · perplexity 6.1 · finished
    ├─ prune-50 · Unstructured pruning 50% · 3.8 MB · 7.0 ms · perplexity 6.3 · finished
    │  └─ distilled · Distillation · … · finished
    └─ int8 · Dynamic int8 · 3.8 MB · 7.2 ms · perplexity 6.1 · finished
       ├─ [file] model.onnx · onnx-fp32 · 3.8 MB · 7.2 ms · perplexity 6.1
       └─ [file] model.int8.onnx · onnx-int8-dynamic · 1.0 MB · 5.0 ms · perplexity 6.1
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from engine.compare.lineage import MARKED, Node, lineage, node_parts
from engine.store import Workspace, default_workspace, strict_json


def tree_lines(nodes: list[Node], prefix: str | None = None) -> Iterator[str]:
    """Indented lines with ├─ / └─ branches; roots (prefix None) start at the left margin."""
    for i, n in enumerate(nodes):
        last = i == len(nodes) - 1
        branch = "" if prefix is None else "└─ " if last else "├─ "
        mark = "[file] " if n.kind == "artifact" else ""
        why = f" ({n.error[:80]})" if n.error and n.status in MARKED else ""
        yield (prefix or "") + branch + mark + " · ".join(node_parts(n)) + why
        below = "" if prefix is None else prefix + ("   " if last else "│  ")
        yield from tree_lines(n.children, below)


def add_tree_command(sub: argparse._SubParsersAction) -> None:
    """Add `tree`: the lineage of every variant in the workspace."""
    t = sub.add_parser("tree", help="the workspace's variants as a tree (baseline → children → files)")
    t.add_argument("--json", action="store_true", help="print the tree as JSON (nested children)")
    t.add_argument("--workspace", "-w", type=Path,
                   help="workspace folder (default: $WORKBENCH_WORKSPACE or "
                   "~/.local/share/workbench/workspace)")
    t.set_defaults(func=cmd_tree)


def cmd_tree(args: argparse.Namespace) -> int:
    """Print the tree (or --json); an empty workspace says so."""
    ws = Workspace(args.workspace or default_workspace())
    roots = lineage(ws)
    if args.json:
        print(strict_json([r.to_dict() for r in roots], indent=2))
    elif not roots:
        print(f"no variants yet in {ws.root}")
    else:
        print("\n".join(tree_lines(roots)))
    return 0
