"""Graph diff of two ONNX files: operator counts by type on each side, and the nodes added,
removed or changed.

Nodes are matched by name first, then (for exporters and quantizers that rename) by
(op type, inputs). "Changed" means the same name with another op type or other attributes:
what a quantizer or graph optimizer rewrites in place. Only the graph is read (no weights),
so a multi-gigabyte file with external data diffs in the time its protobuf takes to parse.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NodeInfo:
    name: str
    op: str
    inputs: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "inputs": list(self.inputs)}


@dataclass(frozen=True)
class NodeChange:
    name: str
    op_a: str
    op_b: str
    attributes: tuple[str, ...]  # names of the attributes that differ (or exist on one side)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_a": self.op_a, "op_b": self.op_b,
                "attributes": list(self.attributes)}


@dataclass
class GraphDiff:
    ops_a: dict[str, int]
    ops_b: dict[str, int]
    added: list[NodeInfo] = field(default_factory=list)
    removed: list[NodeInfo] = field(default_factory=list)
    changed: list[NodeChange] = field(default_factory=list)

    @property
    def op_delta(self) -> dict[str, int]:
        """{op: count in b − count in a} for every op whose count differs."""
        ops = sorted(set(self.ops_a) | set(self.ops_b))
        return {op: self.ops_b.get(op, 0) - self.ops_a.get(op, 0) for op in ops
                if self.ops_b.get(op, 0) != self.ops_a.get(op, 0)}

    def summary(self) -> str:
        """'48 MatMul → 48 MatMulInteger + 96 DynamicQuantizeLinear': ops that went, ops that came."""
        delta = self.op_delta
        gone = [f"{-n} {op}" for op, n in sorted(delta.items(), key=lambda x: x[1]) if n < 0]
        came = [f"{n} {op}" for op, n in sorted(delta.items(), key=lambda x: -x[1]) if n > 0]
        if not gone and not came:
            return "same operator counts"
        return f"{' + '.join(gone) or 'nothing'} → {' + '.join(came) or 'nothing'}"

    def as_dict(self) -> dict[str, Any]:
        return {"ops_a": self.ops_a, "ops_b": self.ops_b, "op_delta": self.op_delta,
                "summary": self.summary(), "added": [n.as_dict() for n in self.added],
                "removed": [n.as_dict() for n in self.removed],
                "changed": [c.as_dict() for c in self.changed]}


def _graph(path: str | Path) -> Any:
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such ONNX file")
    try:
        return onnx.load(str(p), load_external_data=False).graph
    except Exception as exc:  # a protobuf that does not parse: one line naming the file
        raise ValueError(f"{p}: not a readable ONNX file ({type(exc).__name__})") from None


def _attrs(node: Any) -> dict[str, bytes]:
    return {a.name: a.SerializeToString() for a in node.attribute}


def _info(node: Any) -> NodeInfo:
    return NodeInfo(node.name, node.op_type, tuple(node.input))


def _changed(na: Any, nb: Any) -> NodeChange | None:
    aa, ab = _attrs(na), _attrs(nb)
    diff = tuple(sorted(k for k in set(aa) | set(ab) if aa.get(k) != ab.get(k)))
    if na.op_type == nb.op_type and not diff:
        return None
    return NodeChange(na.name, na.op_type, nb.op_type, diff)


def diff_nodes(nodes_a: list[Any], nodes_b: list[Any]) -> tuple[list, list, list]:
    """(added, removed, changed) between two node lists, matched by name then (op, inputs)."""
    by_name_b = {n.name: n for n in nodes_b if n.name}
    matched_b: set[int] = set()
    changed, left_a = [], []
    for na in nodes_a:
        nb = by_name_b.get(na.name) if na.name else None
        if nb is None:
            left_a.append(na)
            continue
        matched_b.add(id(nb))
        change = _changed(na, nb)
        if change is not None:
            changed.append(change)
    by_key: dict[tuple, list[Any]] = {}
    for nb in nodes_b:
        if id(nb) not in matched_b:
            by_key.setdefault((nb.op_type, tuple(nb.input)), []).append(nb)
    removed = []
    for na in left_a:  # renamed, otherwise the same node: not a difference
        same = by_key.get((na.op_type, tuple(na.input)))
        if same:
            matched_b.add(id(same.pop(0)))
        else:
            removed.append(_info(na))
    added = [_info(nb) for nb in nodes_b if id(nb) not in matched_b]
    return added, removed, changed


def graph_diff(path_a: str | Path, path_b: str | Path) -> GraphDiff:
    """Diff the top-level graphs of two ONNX files (ValueError, one line, on a bad file)."""
    ga, gb = _graph(path_a), _graph(path_b)
    nodes_a, nodes_b = list(ga.node), list(gb.node)
    added, removed, changed = diff_nodes(nodes_a, nodes_b)
    return GraphDiff(ops_a=dict(Counter(n.op_type for n in nodes_a)),
                     ops_b=dict(Counter(n.op_type for n in nodes_b)),
                     added=added, removed=removed, changed=changed)


def op_table_text(d: GraphDiff) -> str:
    """Operator counts side by side, one op a line, changed ones marked with their delta."""
    ops = sorted(set(d.ops_a) | set(d.ops_b), key=lambda op: (-max(d.ops_a.get(op, 0), d.ops_b.get(op, 0)), op))
    width = max((len(op) for op in ops), default=2)
    lines = [f"{'op'.ljust(width)}  {'a':>6}  {'b':>6}  change"]
    for op in ops:
        a, b = d.ops_a.get(op, 0), d.ops_b.get(op, 0)
        lines.append(f"{op.ljust(width)}  {a:>6}  {b:>6}  {'' if a == b else f'{b - a:+d}'}")
    return "\n".join(lines)
