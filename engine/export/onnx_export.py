"""export_onnx: try the exporters in order, probe each result, move the good one into place.

Each attempt writes into its own hidden folder next to `path`; only a file that passed
the dynamic-axes check and the onnxruntime probe is renamed onto `path`, so a crash or a
failed export never leaves a half-written or broken model.onnx behind. A graph that
exports but misbehaves (seen: dynamo at opset 23 for Llama, RotaryEmbedding rejected by
onnxruntime at batch > 1) falls back to the next exporter just like an exception.
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from engine.export.errors import ExportError, failure_message, one_line_reason
from engine.export.exporters import ExportRequest, exporter_order, run_exporter
from engine.export.probe import check_dynamic_axes, probe_export
from engine.export.runtime import module_device, onnx_opset
from engine.export.shapes import Axes, default_dynamic_axes, valid_axes

# Past this much weight the graph file stays small and the tensors go in one "<name>.data"
# file next to it. Protobuf caps one file at 2 GiB, but memory decides well below that:
# writing one self-contained file builds the whole ModelProto and its serialized bytes
# (3x the weights at once, measured on a 125M Llama), and every later onnx.load, checker
# and session start parses the weights again; with external data the writer streams
# tensor by tensor and the graph-only reads cost next to nothing (bench/export_memory.py).
SINGLE_FILE_MAX_BYTES = 256_000_000


def _no_log(message: str) -> None:
    pass


@dataclass(frozen=True)
class ExportResult:
    path: Path
    exporter: str  # "dynamo" | "torchscript"
    opset: int  # as written in the file (dynamo cannot always go below 18)
    external_data: bool
    probe: str  # what the onnxruntime probe found, for the log


def _state_bytes(module: nn.Module) -> int:
    tensors = itertools.chain(module.parameters(), module.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def commit_staged(staging: Path, path: Path) -> None:
    """Move the staged model (and its data file) into place, the .onnx file last."""
    staged = sorted(p.name for p in staging.iterdir())
    # Data first: whoever opens model.onnx after the final rename finds its data complete.
    for name in staged:
        if name != path.name:
            os.replace(staging / name, path.parent / name)
    os.replace(staging / path.name, path)
    stale = path.parent / f"{path.name}.data"
    if stale.name not in staged and stale.exists():
        stale.unlink()  # left by an earlier external-data export to this path


def _attempt(
    name: str, req: ExportRequest, path: Path, verify: bool, log: Callable[[str], None]
) -> tuple[Path, str]:
    """Export with one exporter into a fresh staging folder and probe it: (folder, note)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    staged = staging / path.name
    try:
        run_exporter(name, req, staged, log)
        if gc.isenabled():
            # whatever the exporter left in reference cycles, before a session starts; not in a
            # GUI process, which turned automatic GC off because a collection on a worker thread
            # can free Qt objects off their thread (gui/qt_gc.py collects on the GUI thread)
            gc.collect()
        check_dynamic_axes(staged, req)
        return staging, probe_export(staged, req) if verify else "not probed"
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _request(
    module: nn.Module,
    example_inputs: Sequence[Tensor],
    input_names: Sequence[str],
    opset: int,
    output_names: Sequence[str],
    dynamic_axes: Axes | None,
    external_data: bool | None,
) -> ExportRequest:
    names = tuple(input_names)
    if len(example_inputs) != len(names):
        raise ValueError(f"{len(example_inputs)} example inputs for {len(names)} input names")
    device = module_device(module)
    args = tuple(t.to(device) for t in example_inputs)
    axes = default_dynamic_axes(names) if dynamic_axes is None else dynamic_axes
    if external_data is None:
        external_data = _state_bytes(module) > SINGLE_FILE_MAX_BYTES
    return ExportRequest(
        module,
        args,
        names,
        tuple(output_names),
        opset,
        valid_axes(axes, names, args),
        external_data,
    )


def export_onnx_detailed(
    module: nn.Module,
    example_inputs: tuple[Tensor, ...],
    input_names: Sequence[str],
    path: str | Path,
    *,
    opset: int = 18,
    output_names: Sequence[str] = ("logits",),
    dynamic_axes: Axes | None = None,
    exporter: str = "auto",
    external_data: bool | None = None,
    verify: bool = True,
    log: Callable[[str], None] = _no_log,
) -> ExportResult:
    """export_onnx, also saying which exporter wrote the file and at what opset."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    req = _request(
        module, example_inputs, input_names, opset, output_names, dynamic_axes, external_data
    )
    order = exporter_order(exporter, opset)
    attempts: list[tuple[str, BaseException]] = []
    for i, name in enumerate(order):
        log(f"ONNX export: {name} exporter, opset {opset}, dynamic axes {req.axes or 'none'}")
        try:
            staging, probe = _attempt(name, req, path, verify, log)
        except Exception as exc:
            attempts.append((name, exc))
            if i + 1 < len(order):
                log(
                    f"ONNX export: {name} exporter failed ({one_line_reason(exc)}); "
                    f"trying the {order[i + 1]} exporter"
                )
            continue
        try:
            written_opset = onnx_opset(staging / path.name)
            commit_staged(staging, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if written_opset != opset:
            log(f"ONNX export: asked for opset {opset}, {name} wrote opset {written_opset}")
        log(f"ONNX export: wrote {path.name} with the {name} exporter; {probe}")
        return ExportResult(path, name, written_opset, req.external, probe)
    message = failure_message(type(module).__name__, attempts, opset, module)
    raise ExportError(message, attempts) from attempts[0][1]


def export_onnx(
    module: nn.Module,
    example_inputs: tuple[Tensor, ...],
    input_names: Sequence[str],
    path: str | Path,
    *,
    opset: int = 18,
    output_names: Sequence[str] = ("logits",),
    dynamic_axes: dict[str, dict[int, str]] | None = None,
    exporter: str = "auto",
    external_data: bool | None = None,
    verify: bool = True,
    log: Callable[[str], None] = _no_log,
) -> Path:
    """Export `module` to `path` atomically with dynamic axes; raises ExportError on failure.

    dynamic_axes=None makes batch (and sequence, for token inputs) dynamic. exporter is
    "auto" (dynamo, falling back to TorchScript), "dynamo" or "torchscript".
    external_data=None writes one self-contained file unless the weights pass 256 MB.
    verify runs the staged file in onnxruntime at a larger shape before it replaces `path`.
    """
    return export_onnx_detailed(
        module,
        example_inputs,
        input_names,
        path,
        opset=opset,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        exporter=exporter,
        external_data=external_data,
        verify=verify,
        log=log,
    ).path
