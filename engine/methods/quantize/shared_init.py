"""Give every node its own copy of a shared 1-D initializer before quantizing.

The TorchScript exporter merges initializers with equal values (a fresh model's zero
biases and all-ones LayerNorm weights become one tensor), and onnxruntime's
pre-processing removes the Identity nodes between them. onnxruntime's QOperator quantizer
then writes one quantized copy for every use: seen on a tiny BERT, a zero bias shared by a
LayerNorm and a Gemm became uint8 for one and was fed to QGemm as its int32 bias, which
onnxruntime refuses to load. Copies of 1-D tensors cost next to nothing; shared 2-D
weights (a tied LM head) stay shared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path


def unshare_vectors(model) -> int:  # onnx.ModelProto (onnx is imported by the caller)
    """Rewrite `model` so no 1-D initializer feeds two node inputs; how many copies made."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer if len(i.dims) <= 1}
    uses: Counter[str] = Counter()
    copies = 0
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name not in inits:
                continue
            uses[name] += 1
            if uses[name] == 1:
                continue
            twin = graph.initializer.add()
            twin.CopyFrom(inits[name])
            twin.name = f"{name}__use{uses[name]}"
            node.input[k] = twin.name
            copies += 1
    return copies


def unshare_file(
    path: Path, dst: Path, save_kwargs: dict, log: Callable[[str], None]
) -> Path:
    """`path` if nothing is shared, else the unshared model written to `dst` (may be path)."""
    import onnx

    model = onnx.load(str(path))
    copies = unshare_vectors(model)
    if not copies:
        return path
    onnx.save(model, str(dst), **save_kwargs)
    log(f"graph optimization: {copies} shared bias/scale tensor use(s) given their own copy")
    return dst
