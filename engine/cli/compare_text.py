"""Terminal text for `workbench-cli compare`: the record compare_record builds, as sections."""

from __future__ import annotations

from typing import Any

LAYER_HEADER = ["layer", "shape", "params", "sparsity", "bits", "Δw/‖w‖", "int8 error", "removed"]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return [line.rstrip() for line in out]


def _shape(s: list[int] | None) -> str:
    return "-" if s is None else "×".join(str(x) for x in s)


def _num(n: Any) -> str:
    return "-" if n is None else f"{n:,}"


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:.1%}"


def layer_cells(r: dict[str, Any]) -> list[str]:
    """One layer row of the record as the table's cells (LAYER_HEADER's columns)."""
    change = r["weight_change"]
    bits = r["bits_a"] if r["bits_a"] == r["bits_b"] else f"{r['bits_a']} → {r['bits_b']}"
    what = r["removed"] or ("added" if r["shape_a"] is None else "gone" if r["shape_b"] is None
                            else "")
    return [r["name"], f"{_shape(r['shape_a'])} → {_shape(r['shape_b'])}",
            f"{_num(r['params_a'])} → {_num(r['params_b'])}",
            f"{_pct(r['sparsity_a'])} → {_pct(r['sparsity_b'])}", bits,
            "-" if change is None else f"{change:.3f}",
            "-" if r["quant_error_b"] is None else f"{r['quant_error_b']:.2%}", what]


def layer_lines(record: dict[str, Any]) -> list[str]:
    rows = record["layers"]
    head = (f"layers: {record['layers_changed']} of {record['layers_total']} differ"
            + (f" (the {len(rows)} most changed shown; --layers for all)"
               if len(rows) < record["layers_changed"] else ""))
    if not rows:
        return [head]
    table = _table(LAYER_HEADER,
                   [layer_cells(r) for r in rows])
    return [head, *(f"  {line}" for line in table)]


def graph_lines(g: dict[str, Any] | None) -> list[str]:
    if g is None:
        return []
    out = [f"graph ({g['artifact']}): {g['summary']}"]
    ops = sorted(set(g["ops_a"]) | set(g["ops_b"]),
                 key=lambda op: (-max(g["ops_a"].get(op, 0), g["ops_b"].get(op, 0)), op))
    rows = [[op, str(g["ops_a"].get(op, 0)), str(g["ops_b"].get(op, 0)),
             f"{g['op_delta'][op]:+d}" if op in g["op_delta"] else ""] for op in ops]
    out += [f"  {line}" for line in _table(["op", "A", "B", "change"], rows)]
    out.append(f"  nodes: {len(g['added'])} added, {len(g['removed'])} removed, "
               f"{len(g['changed'])} changed")
    out += [f"    changed {c['name']}: {c['op_a']} → {c['op_b']}"
            + (f" ({', '.join(c['attributes'])})" if c["attributes"] else "")
            for c in g["changed"][:10]]
    return out


def compare_text(record: dict[str, Any]) -> str:
    """All sections: recipe, card, did it shrink, layers, graph, notes."""
    from engine.shrink import shrink_text

    a, b = record["a"], record["b"]
    lines = [f"A: {a['name']} ({a['id']}, {a['status']})",
             f"B: {b['name']} ({b['id']}, {b['status']})", "", "recipe (A → B):"]
    lines += [f"  {c['text']}" for c in record["recipe"]] or ["  same recipe"]
    lines += ["", "card:"]
    lines += [f"  {line}" for line in _table(
        ["", "A", "B"], [[r["field"], r["a"], r["b"]] for r in record["card"]])]
    if record["shrink"] is not None:
        lines += ["", "B against A:", *(f"  {x}" for x in shrink_text(record["shrink"]).splitlines())]
    lines += ["", *layer_lines(record)]
    graph = graph_lines(record["graph"])
    lines += ["", *graph] if graph else []
    lines += [f"note: {n}" for n in record["notes"]]
    return "\n".join(lines)
