"""Which PyTorch module an exported ONNX node came from, named as the model anatomy names it.

What the project's exporter writes (torch 2.13, checked on a tiny BERT and the built-in GPT):
- dynamo: nodes are called `node_MatMul_91` / `node_linear_16` and MatMul weights are
  anonymous transposed constants (`val_92`), but every node carries the metadata
  `pkg.torch.onnx.name_scopes`, e.g. ['', 'bert', ..., 'bert.encoder.layer.0.attention.self.query',
  'linear']: the module path, then the traced call.
- TorchScript: nodes are named by scope, `/bert/encoder/layer.0/attention/self/query/MatMul`,
  and MatMul weights are `onnx::MatMul_412`.
- Gemm and Conv weights keep their parameter name (`classifier.weight`) in both.
- onnxruntime's graph optimization drops the metadata and writes fused nodes with new
  names (Attention_0); optimized_layers reads both back from the exported file.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def _from_scopes(node: onnx.NodeProto) -> str | None:
    for prop in node.metadata_props:
        if prop.key != SCOPES_KEY:
            continue
        try:
            scopes = ast.literal_eval(prop.value)
        except (ValueError, SyntaxError):
            return None
        # the last entry is the traced call (linear_3, matmul_2), the one before its module
        if isinstance(scopes, list) and len(scopes) >= 2 and scopes[-2]:
            return str(scopes[-2])
    return None


def _from_scoped_name(name: str) -> str | None:
    # "/bert/encoder/layer.0/attention/self/query/MatMul" -> bert.encoder...query
    if not name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p][:-1]
    return ".".join(parts) or None


def _from_weight(node: onnx.NodeProto, initializers: set[str]) -> str | None:
    for name in node.input[1:]:
        if name in initializers and name.endswith(".weight"):
            return name[: -len(".weight")]
    return None


def layer_name(node: onnx.NodeProto, initializers: set[str]) -> str:
    """The module name (as in named_modules()) that produced `node`, else the node name.

    Scope metadata and scoped node names come first: a weight's name can belong to
    another module when weights are tied (an LM head reusing the embedding).
    """
    return (
        _from_scopes(node)
        or _from_scoped_name(node.name)
        or _from_weight(node, initializers)
        or node.name
    )


def _module_of(node: onnx.NodeProto, initializers: set[str]) -> str | None:
    return _from_scopes(node) or _from_scoped_name(node.name) or _from_weight(node, initializers)


def _common_module(names: list[str]) -> str | None:
    """The deepest module path all `names` sit in (a.b.c, a.b.d -> a.b), None if none."""
    if not names:
        return None
    parts = [n.split(".") for n in names]
    common = []
    for level in zip(*parts, strict=False):
        if any(p != level[0] for p in level):
            break
        common.append(level[0])
    return ".".join(common) or None


def _param_module(initializer: str) -> str | None:
    # bert.embeddings.LayerNorm.bias__use2 (an unshared copy) -> bert.embeddings.LayerNorm
    base = initializer.split("__use")[0]
    for suffix in (".weight", ".bias"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return None


def fused_layer(
    node: onnx.NodeProto, source: onnx.GraphProto, producer: dict[str, onnx.NodeProto]
) -> str | None:
    """The module a node written by graph optimization stands for, read from the export.

    onnxruntime's fused ops (Attention, SkipLayerNormalization, BiasGelu) keep the tensor
    name of the subgraph output they replace, so the export's producer of that tensor names
    the module (Attention -> bert.encoder.layer.0.attention.self). EmbedLayerNormalization
    writes new output names; its parameters keep theirs (-> bert.embeddings).
    """
    inits = {i.name for i in source.initializer}
    found = [m for o in node.output if o in producer and (m := _module_of(producer[o], inits))]
    if not found:
        found = [m for i in node.input if i and (m := _param_module(i))]
    return _common_module(found)


def optimized_layers(source: onnx.GraphProto, optimized: onnx.GraphProto) -> dict[str, str]:
    """Node name of the optimized graph -> module name as the anatomy shows it, for every
    node whose module is known: nodes the optimizer kept are read by their export twin
    (optimization drops the exporter's metadata), fused ones by fused_layer."""
    inits = {i.name for i in source.initializer}
    by_name = {n.name: n for n in source.node if n.name}
    producer = {o: n for n in source.node for o in n.output if o}
    out: dict[str, str] = {}
    for node in optimized.node:
        twin = by_name.get(node.name)
        layer = _module_of(twin, inits) if twin is not None else fused_layer(node, source, producer)
        if node.name and layer:
            out[node.name] = layer
    return out
