"""The workspace as a tree of variants: baseline → pruned → distilled → int8 …

Every variant is one node, hung under the variant its `parent` id names, so a baseline
that several recipes reused appears once with all of them as its children. A variant
whose parent was deleted becomes a root marked `orphan`. The deployable files on a
variant's card (`artifacts`: onnx-fp32, onnx-int8-dynamic, onnx-int4 …) are its leaves
of kind "artifact". The CLI's `tree` and the Compare page's Lineage tab draw this.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.metric_text import fmt_metric, headline_metric
from engine.safe_yaml import bounded_safe_load
from engine.store import Variant, Workspace

MARKED = ("failed", "cancelled", "crashed")  # drawn apart: they have no numbers to compare


@dataclass
class Node:
    """One variant (kind "variant") or one of its files (kind "artifact")."""

    kind: str
    id: str  # the run id; an artifact: "<run id>/<file kind>"
    name: str
    method: str  # a few words: "Unstructured pruning 50%", "baseline", "onnx-int8-dynamic"
    status: str  # finished / failed / cancelled / crashed / running; an artifact: ok / error
    size_mb: float | None = None  # the ONNX file on disk
    latency_ms: float | None = None  # p50, as measured by the export / deploy stage
    metric: str | None = None  # the headline metric's name ...
    value: float | None = None  # ... and value
    parent: str | None = None  # the run id of the node above (None for a root)
    orphan: bool = False  # its parent id names a variant that is no longer there
    same_name: bool = False  # another variant has this name (re-runs, two baselines): show the id
    error: str | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """The variant this node belongs to (an artifact: its variant's)."""
        return self.id.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the fields and the children, depth first."""
        d = {k: getattr(self, k) for k in ("kind", "id", "name", "method", "status", "size_mb",
                                           "latency_ms", "metric", "value", "parent", "orphan",
                                           "same_name", "error")}  # fmt: skip
        d["children"] = [c.to_dict() for c in self.children]
        return d


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


def _mb(size_bytes: Any) -> float | None:
    n = _number(size_bytes)
    return n / 1e6 if n is not None else None


def method_summary(v: Variant) -> str:
    """The variant's steps in a few words; 'baseline' for the unmodified model.

    A finished run's card has each step's title; a failed or cancelled run may have no
    card, so its recipe's method types are read instead (a recipe that does not parse
    leaves the summary empty rather than hiding the run).
    """
    steps = [s.get("title") for s in (v.card or {}).get("steps") or [] if isinstance(s, dict)]
    if any(steps):
        return " + ".join(str(s) for s in steps if s)
    try:
        recipe = bounded_safe_load(v.recipe or "") or {}
    except Exception:  # a damaged recipe text: the node still shows
        return ""
    methods = recipe.get("methods") if isinstance(recipe, dict) else None
    if not methods:
        return "baseline" if v.parent is None else "fine-tune"
    return " + ".join(_method_title(m) for m in methods if isinstance(m, dict))


def _method_title(m: dict[str, Any]) -> str:
    """A step's title through the registry (as the card writes it); its type name otherwise."""
    try:
        from engine.estimate import step_title
        from engine.registry import method_config_class

        cfg_cls = method_config_class(str(m.get("type")))
        return step_title(cfg_cls(**{k: v for k, v in m.items() if k != "type"}))
    except Exception:  # an unknown type or a bad value: that is why the run failed
        return str(m.get("type", "?"))


def _artifact_nodes(v: Variant) -> list[Node]:
    """The card's deployable files as leaves, in the card's order (fp32 first)."""
    out = []
    for a in (v.card or {}).get("artifacts") or []:
        if not isinstance(a, dict) or not a.get("kind"):
            continue
        metric = headline_metric(a)
        out.append(Node(
            kind="artifact", id=f"{v.id}/{a['kind']}", name=Path(str(a.get("path") or "")).name
            or str(a["kind"]), method=str(a["kind"]), status="error" if a.get("error") else "ok",
            size_mb=_mb(a.get("size_bytes")), latency_ms=_number(a.get("latency_ms_p50")),
            metric=metric[0] if metric else None, value=metric[1] if metric else None,
            parent=v.id, error=a.get("error") or None,
        ))  # fmt: skip
    return out


def variant_node(v: Variant, orphan: bool = False) -> Node:
    """One variant's node with its artifact leaves (no variant children yet)."""
    card = v.card or {}
    onnx = card.get("onnx") if isinstance(card.get("onnx"), dict) else {}
    metric = headline_metric(card)
    error = v.error or (f"files missing: {v.missing}" if v.missing else None)
    return Node(
        kind="variant", id=v.id, name=v.name, method=method_summary(v), status=v.status,
        size_mb=_mb(onnx.get("size_bytes")), latency_ms=_number(onnx.get("latency_ms_p50")),
        metric=metric[0] if metric else None, value=metric[1] if metric else None,
        parent=v.parent, orphan=orphan, error=error, children=_artifact_nodes(v),
    )  # fmt: skip


def lineage(ws: Workspace | list[Variant]) -> list[Node]:
    """The workspace's variants as trees, roots first (oldest first at every level).

    A variant's own files come before the variants derived from it. A parent id naming no
    variant here (deleted) makes the child a root marked orphan.
    """
    variants = ws.variants() if isinstance(ws, Workspace) else list(ws)
    ids = {v.id for v in variants}
    names = [v.name for v in variants]
    nodes = {v.id: variant_node(v, orphan=v.parent is not None and v.parent not in ids)
             for v in variants}  # fmt: skip
    for v in variants:
        nodes[v.id].same_name = names.count(v.name) > 1
    roots: list[Node] = []
    for v in variants:  # oldest first: children keep their run order
        node = nodes[v.id]
        if v.parent is None or node.orphan or v.parent == v.id:
            roots.append(node)
    kids: dict[str, list[Node]] = {}
    for v in variants:
        if v.parent in ids and v.parent != v.id:
            kids.setdefault(v.parent, []).append(nodes[v.id])
    reached: set[str] = set()

    def attach(node: Node) -> None:
        reached.add(node.id)
        below = [k for k in kids.get(node.id, []) if k.id not in reached]
        node.children = node.children + below  # its own files first, then what derives from it
        for k in below:
            attach(k)

    for root in roots:
        attach(root)
    for v in variants:  # a parent loop (a hand-edited index) reaches no root: show it anyway
        if v.id not in reached:
            nodes[v.id].orphan = True
            roots.append(nodes[v.id])
            attach(nodes[v.id])
    return roots


def walk(nodes: list[Node], depth: int = 0) -> Iterator[tuple[Node, int]]:
    """Every node with its depth, depth first in drawing order."""
    for n in nodes:
        yield n, depth
        yield from walk(n.children, depth + 1)


def find(nodes: list[Node], node_id: str) -> Node | None:
    """The node with this id (a run id or '<run id>/<kind>'), or None."""
    return next((n for n, _ in walk(nodes) if n.id == node_id), None)


def node_parts(n: Node) -> list[str]:
    """The words shown for a node, in order: name, method, size, latency, metric, status.

    Missing numbers are left out rather than shown as blanks; failed, cancelled and crashed
    runs say so in capitals; a file says only when it failed.
    """
    parts = [f"{n.name} ({n.id})" if n.same_name else n.name]
    if n.method and n.method != n.name:
        parts.append(n.method)
    if n.size_mb is not None:
        parts.append(f"{n.size_mb:.1f} MB")
    if n.latency_ms is not None:
        parts.append(f"{n.latency_ms:.1f} ms")
    if n.metric is not None and n.value is not None:
        parts.append(f"{n.metric} {fmt_metric(n.metric, n.value)}")
    if n.kind == "variant":
        parts.append(n.status.upper() if n.status in MARKED else n.status)
    elif n.status != "ok":
        parts.append(n.status)
    if n.orphan:
        parts.append(f"parent {n.parent} deleted" if n.parent else "orphan")
    return parts


def subtree_size(n: Node) -> int:
    """How many nodes hang below `n` (its files included)."""
    return sum(1 + subtree_size(c) for c in n.children)


def matches(n: Node, text: str) -> bool:
    """Every word of `text` is in the node's name, method, status or id (any case)."""
    hay = " ".join((n.name, n.method or "", n.status, n.id)).lower()
    return all(word in hay for word in text.lower().split())


def filter_tree(roots: list[Node], text: str) -> tuple[list[Node], set[str]]:
    """The trees cut to the nodes matching `text` and their ancestors (copies, the input is
    untouched), and the ids of the matching nodes; an empty text keeps everything."""
    if not text.strip():
        return roots, {n.id for n, _ in walk(roots)}
    hits: set[str] = set()

    def keep(n: Node) -> Node | None:
        kids = [k for k in (keep(c) for c in n.children) if k is not None]
        if matches(n, text):
            hits.add(n.id)
        return replace(n, children=kids) if kids or n.id in hits else None

    return [k for k in (keep(r) for r in roots) if k is not None], hits


def collapse(roots: list[Node], collapsed: set[str]) -> tuple[list[Node], dict[str, int]]:
    """The trees with the subtrees of `collapsed` nodes cut off (copies), and per cut node
    how many nodes it hides."""
    hidden: dict[str, int] = {}

    def cut(n: Node) -> Node:
        if n.id in collapsed and n.children:
            hidden[n.id] = subtree_size(n)
            return replace(n, children=[])
        return replace(n, children=[cut(c) for c in n.children])

    return [cut(r) for r in roots], hidden


def ancestors(roots: list[Node], node_id: str) -> list[str]:
    """The ids above `node_id`, root first ([] for a root or an id not in the trees)."""

    def path(nodes: list[Node], trail: list[str]) -> list[str] | None:
        for n in nodes:
            if n.id == node_id:
                return trail
            found = path(n.children, trail + [n.id])
            if found is not None:
                return found
        return None

    return path(roots, []) or []
