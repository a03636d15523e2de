"""Read intermediate tensors of an ONNX file: expose them as graph outputs, run feeds.

Shared by the per-node error view and the activation histogram. onnx and onnxruntime are
imported inside the functions: registry discovery imports every module under
engine/methods/, and that must stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx
    import onnxruntime as ort

Feeds = Sequence[dict[str, np.ndarray]]


def load(path: str | Path) -> onnx.ModelProto:
    """The model with its weights (external data included), or a one-line error."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    return onnx.load(str(path))


def initializer_names(model: onnx.ModelProto) -> set[str]:
    return {init.name for init in model.graph.initializer}


def produced_names(model: onnx.ModelProto) -> set[str]:
    """Every tensor a run computes or receives: node outputs and graph inputs."""
    names = {i.name for i in model.graph.input}
    for node in model.graph.node:
        names.update(o for o in node.output if o)
    return names


def with_outputs(model: onnx.ModelProto, names: Sequence[str]) -> onnx.ModelProto:
    """A copy of `model` that also returns the tensors `names` (types left to onnxruntime)."""
    import onnx
    from onnx import helper

    tapped = onnx.ModelProto()
    tapped.CopyFrom(model)
    present = {o.name for o in tapped.graph.output}
    for name in names:
        if name not in present:
            tapped.graph.output.append(helper.make_empty_tensor_value_info(name))
            present.add(name)
    return tapped


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    """A CPU session; basic optimizations only, so every tapped tensor keeps its name."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.log_severity_level = 3  # the "output has no type" notes for tapped tensors
    return ort.InferenceSession(
        model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
    )


def check_feeds(model: onnx.ModelProto, feeds: Feeds) -> None:
    """One clear line when the feeds do not fit the model's inputs."""
    if not feeds:
        raise ValueError("feeds: give at least one batch (a dict of input name -> array)")
    wanted = {i.name for i in model.graph.input} - initializer_names(model)
    for k, feed in enumerate(feeds):
        missing = sorted(wanted - set(feed))
        if missing:
            raise ValueError(
                f"feeds[{k}]: missing model input(s) {', '.join(missing)}; "
                f"the model takes {', '.join(sorted(wanted))}"
            )


def run(sess: ort.InferenceSession, names: Sequence[str], feeds: Feeds) -> Iterator[dict]:
    """For each batch, {name: array} of the requested tensors (one batch in memory at a time)."""
    inputs = {i.name for i in sess.get_inputs()}
    for feed in feeds:
        values = sess.run(list(names), {k: v for k, v in feed.items() if k in inputs})
        yield dict(zip(names, values, strict=True))
