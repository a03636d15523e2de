"""Which ONNX nodes an `exclude_nodes` list means, and which layer a node belongs to.

A pattern may be an exact node name, a layer name as the model anatomy shows it
(encoder.layer.0.output.dense), an fnmatch pattern over either, or 're:' + a regular
expression. Both exporters record the layer a node came from: the TorchScript exporter in
the node name (/encoder/layer.0/output/dense/MatMul), the dynamo exporter in the node's
name-scope metadata (engine/methods/quantize/onnx_layers.py reads both).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from engine.config_fields import ConfigError, FieldError

if TYPE_CHECKING:  # onnx is slow to import and registry discovery imports this module
    import onnx

# The exporters' own node-name forms: a pattern of this shape can only be checked on the graph.
_NODE_NAME_FORM = re.compile(r"^(/|node_)|/")
# Names onnxruntime's transformer optimizer gives the fused ops int8 quantizes whole; they
# exist only in the optimized graph, so they are looked for there (after_optimization).
_FUSED_NAME = re.compile(r"^(Attention|MultiHeadAttention|EmbedLayerNormalization)_\d+$")


def node_layer(node: onnx.NodeProto) -> str:
    """The dotted module path a node was exported from ("" when the exporter left none);
    the same reading as the per-node error view (onnx_layers.layer_name)."""
    from engine.methods.quantize.onnx_layers import layer_name

    layer = layer_name(node, set())
    return "" if layer == node.name else layer


def _matches(pattern: str, names: Iterable[str]) -> bool:
    if pattern.startswith("re:"):
        rx = re.compile(pattern[3:])
        return any(rx.fullmatch(n) for n in names if n)
    return any(n == pattern or fnmatch.fnmatchcase(n, pattern) for n in names if n)


def node_layers(graph: onnx.GraphProto, optimized: onnx.GraphProto | None = None) -> dict[str, str]:
    """Node name -> layer name, for every node the exporter recorded a layer for; with
    `optimized` (graph optimization's rewrite of `graph`), for that graph's nodes, fused
    ones included (Attention_0 -> bert.encoder.layer.0.attention.self)."""
    if optimized is not None:
        from engine.methods.quantize.onnx_layers import optimized_layers

        return optimized_layers(graph, optimized)
    return {n.name: layer for n in graph.node if (layer := node_layer(n))}


def fused_away(
    graph: onnx.GraphProto, optimized: onnx.GraphProto, wanted: list[str], kept: set[str]
) -> list[str]:
    """The nodes of `wanted` (export node names) that optimization fused into an op which
    is not kept in fp32: a node inside a kept fused op's layer (a Softmax of an excluded
    Attention's bert.encoder.layer.0.attention.self) stays fp32 with it."""
    present = {n.name for n in optimized.node}
    layers = node_layers(graph, optimized)
    kept_layers = {layers[n] for n in kept if n in layers and n not in {m.name for m in graph.node}}
    by_name = {n.name: n for n in graph.node}

    def inside(name: str) -> bool:
        layer = node_layer(by_name[name]) if name in by_name else ""
        return any(layer == k or layer.startswith(k + ".") for k in kept_layers if layer)

    return [n for n in wanted if n not in present and not inside(n)]


def quantizer_names(excluded: list[str]) -> list[str]:
    """`excluded` as onnxruntime's nodes_to_exclude must spell it: dynamic int8 first
    rewrites each Gemm X as X_MatMul + X_Add and checks exclusions on those names."""
    return [*excluded, *(f"{n}_MatMul" for n in excluded)]


def resolve_exclusions(
    graph: onnx.GraphProto,
    patterns: tuple[str, ...],
    field: str = "exclude_nodes",
    layers: dict[str, str] | None = None,
    strict: bool = True,
    later: tuple[str, ...] = (),
) -> list[str]:
    """Node names the patterns match (by node name or layer), in graph order.

    `layers`: node name -> layer read from the exported file, for a graph that optimization
    rewrote (onnxruntime's optimizer keeps node names but drops their metadata). A pattern
    that matches no node raises one ConfigError naming the field and real names to use;
    with strict=False it is passed over (on an optimized graph, a pattern whose nodes were
    all fused away, while the others still match). Patterns in `later` may match nothing
    here: they name fused nodes, checked on the optimized graph (after_optimization).
    """
    layers = layers or {}
    named = [(n.name, node_layer(n) or layers.get(n.name, ""), n.op_type) for n in graph.node]
    unmatched = [p for p in patterns if p not in later
                 and not any(_matches(p, (nm, ly)) for nm, ly, _ in named)]  # fmt: skip
    if unmatched and strict:
        raise ConfigError([FieldError(field, _no_match_message(unmatched, named))])
    return [nm for nm, ly, _ in named if any(_matches(p, (nm, ly)) for p in patterns)]


def _no_match_message(unmatched: list[str], named: list[tuple[str, str, str]]) -> str:
    weighty = [(nm, ly) for nm, ly, op in named if op in ("MatMul", "Gemm", "Conv")]
    sample = weighty[:4] or [(nm, ly) for nm, ly, _ in named[:4]]
    shown = ", ".join(f"{nm} (layer {ly})" if ly else nm for nm, ly in sample)
    return (
        f"{', '.join(repr(p) for p in unmatched)} matches no node of the exported graph; "
        f"nodes look like: {shown}"
    )


def layer_problems(patterns: tuple[str, ...], module: Any) -> list[str]:
    """Before export: patterns that are neither a node-name form nor match any layer name.

    The graph does not exist yet, so only layer-name patterns can be checked here; node-name
    patterns (/a/b/MatMul, node_MatMul_3) are checked on the graph before quantizing.
    """
    names = [name for name, _ in module.named_modules() if name]
    bad = [
        p for p in patterns
        if not p.startswith("re:") and not _NODE_NAME_FORM.search(p)
        and not _FUSED_NAME.match(p) and not _matches(p, names)
    ]  # fmt: skip
    if not bad:
        return []
    sample = ", ".join(names[:4])
    return [
        f"exclude_nodes: {', '.join(repr(p) for p in bad)} matches no layer of the model; "
        f"layers look like: {sample} (or give ONNX node names such as /a/b/MatMul)"
    ]


def fused_names(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """The patterns that name a fused node (Attention_0), as the per-node error list does."""
    return tuple(p for p in patterns if _FUSED_NAME.match(p))


def after_optimization(graph: onnx.GraphProto, patterns: tuple[str, ...], field: str) -> None:
    """One ConfigError when a fused-node name in exclude_nodes is not in the optimized graph
    (no optimization ran, or it fused less): the name means nothing there."""
    names = {n.name for n in graph.node}
    missing = [p for p in fused_names(patterns) if p not in names]
    if missing:
        raise ConfigError([FieldError(field, (
            f"{', '.join(repr(p) for p in missing)} names a node that graph optimization "
            f"writes, and this graph has none such; give its layer name as the error chart "
            f"shows it (bert.encoder.layer.0.attention.self), or set optimize: transformer"
        ))])  # fmt: skip
