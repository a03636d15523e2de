"""Which PyTorch module an exported ONNX node came from, named as the model anatomy names it.

What the project's exporter writes (torch 2.13, checked on a tiny BERT and the built-in GPT):
- dynamo: nodes are called `node_MatMul_91` / `node_linear_16` and MatMul weights are
  anonymous transposed constants (`val_92`), but every node carries the metadata
  `pkg.torch.onnx.name_scopes`, e.g. ['', 'bert', ..., 'bert.encoder.layer.0.attention.self.query',
  'linear']: the module path, then the traced call.
- TorchScript: nodes are named by scope, `/bert/encoder/layer.0/attention/self/query/MatMul`,
  and MatMul weights are `onnx::MatMul_412`.
- Gemm and Conv weights keep their parameter name (`classifier.weight`) in both.
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
