"""The dynamo and TorchScript exporters behind one call that writes a staged file.

Observed with torch 2.13 / onnxscript 0.7 / onnxruntime 1.32: both exporters handle a
hand-written GPT, Hugging Face BERT and Llama with dynamic batch and sequence axes at
opsets 18-22. Dynamo goes first: it is torch's default and maintained path (the
TorchScript one warns that it is deprecated), and the TorchScript one emitted an
EyeLike(bool) node that onnxruntime cannot run. Dynamo has its own gaps (opset 23
Llama, opsets below 18), which the onnxruntime probe in probe.py catches.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import Tensor, nn

from engine.export.errors import first_line
from engine.export.runtime import eval_mode
from engine.export.shapes import Axes, at_least_two
from engine.quiet import fd_silenced

EXPORTERS = ("dynamo", "torchscript")
# Per-export chatter: "torchvision is not installed" from the op registry, and a full
# traceback from the version converter when it cannot go below opset 18 (we log that
# outcome ourselves in one line).
_NOISY_LOGGERS = ("torch.onnx._internal.exporter._registration", "onnxscript.version_converter")


@dataclass(frozen=True)
class ExportRequest:
    module: nn.Module
    args: tuple[Tensor, ...]  # example inputs, on the module's device
    names: tuple[str, ...]
    output_names: tuple[str, ...]
    opset: int
    axes: Axes  # input name -> {axis: label} for the dynamic axes
    external: bool  # weights in one "<file>.data" next to the graph


def exporter_order(exporter: str, opset: int) -> list[str]:
    """The exporters to try, in order, for "auto", "dynamo" or "torchscript"."""
    if exporter != "auto":
        if exporter not in EXPORTERS:
            raise ValueError(f"exporter must be auto, dynamo or torchscript, not {exporter!r}")
        return [exporter]
    # The dynamo exporter's op library starts at opset 18 and down-converts below that,
    # which produced a Split node onnxruntime rejects at opset 17.
    return ["dynamo", "torchscript"] if opset >= 18 else ["torchscript", "dynamo"]


def _export_dynamo(req: ExportRequest, args: tuple, staged: Path) -> None:
    # String axis labels become Dim.DYNAMIC and are written into the graph as given;
    # tuple (positional) form because forward's parameter names need not match req.names.
    shapes = tuple(req.axes.get(n) for n in req.names) if req.axes else None
    program = torch.onnx.export(
        req.module,
        args,
        dynamo=True,
        input_names=list(req.names),
        output_names=list(req.output_names),
        opset_version=req.opset,
        dynamic_shapes=shapes,
        optimize=True,
        verbose=False,
    )
    if req.external:
        program.save(staged, external_data=True)
    else:
        import onnx_ir  # comes with onnxscript

        # program.save() splits weights out above 1.5 GiB; we want one file below 2 GB.
        onnx_ir.save(program.model, staged)


@contextmanager
def _no_ir_dump() -> Iterator[None]:
    """Keep the TorchScript exporter's graph dump off stdout.

    On a failure it prints the whole TorchScript IR ("Torch IR graph at exception", hundreds of
    lines) from C++ straight to file descriptor 1 (its logging switch tests a function object,
    so it is always on); the failure itself still raises and is reported in one line.
    """
    with fd_silenced(1):
        yield


def _export_torchscript(req: ExportRequest, args: tuple, staged: Path) -> None:
    with _no_ir_dump():
        torch.onnx.export(
            req.module,
            args,
            str(staged),
            dynamo=False,
            input_names=list(req.names),
            output_names=list(req.output_names),
            opset_version=req.opset,
            dynamic_axes=req.axes or None,
        )
    # Over 2 GB it writes one file per tensor; gather them into one "<name>.data".
    extra = [p for p in staged.parent.iterdir() if p != staged]
    if req.external or extra:
        model = onnx.load(str(staged))
        for p in extra:
            p.unlink()
        onnx.save_model(
            model,
            str(staged),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{staged.name}.data",
        )


_EXPORT_FUNCS: dict[str, Callable[[ExportRequest, tuple, Path], None]] = {
    "dynamo": _export_dynamo,
    "torchscript": _export_torchscript,
}


@contextmanager
def _quiet_exporter() -> Iterator[list[warnings.WarningMessage]]:
    """Collect warnings and mute the exporters' noisy loggers so the job log stays readable."""
    loggers = [logging.getLogger(n) for n in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _log_tracer_warnings(caught: list[warnings.WarningMessage], log: Callable[[str], None]) -> None:
    """Pass on TracerWarnings: they say where a traced graph may not generalise."""
    lines = dict.fromkeys(
        first_line(str(w.message))
        for w in caught
        if issubclass(w.category, torch.jit.TracerWarning)
    )
    for line in list(lines)[:3]:
        log(f"ONNX export warning: {line}")


def run_exporter(name: str, req: ExportRequest, staged: Path, log: Callable[[str], None]) -> None:
    """Write `staged` (plus "<staged>.data" if req.external) with one exporter, module in eval."""
    args = at_least_two(req.args, req.names, req.axes)
    with eval_mode(req.module), torch.no_grad(), _quiet_exporter() as caught:
        _EXPORT_FUNCS[name](req, args, staged)
    _log_tracer_warnings(caught, log)
