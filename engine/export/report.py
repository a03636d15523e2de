"""ExportReport and export_and_check: export, then checker, parity and latency in one call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from engine.export.errors import ExportError, one_line_reason
from engine.export.onnx_export import export_onnx_detailed
from engine.export.runtime import (
    check_model,
    compare_with_torch,
    make_session,
    measure_latency,
    onnx_size_bytes,
    onnx_zip_bytes,
    ort_providers,
)
from engine.recipe import ExportConfig


@dataclass(frozen=True)
class ExportReport:
    path: str
    size_bytes: int  # total on disk incl. any external-data file
    opset: int  # as written in the file
    checker_ok: bool
    checker_message: str  # "" when ok, else onnx.checker's message (one line)
    max_abs_diff: float | None  # over all parity batches, ORT vs PyTorch logits
    top1_agreement: float | None  # fraction of positions where argmax(logits, -1) agree
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_shape: tuple[int, ...] | None  # e.g. (batch, seq)
    provider: str  # e.g. "CPUExecutionProvider"
    exporter: str = ""  # "dynamo" or "torchscript"
    # deflate-compressed size (file + external data): zeros from unstructured pruning
    # leave size_bytes unchanged but shrink this; None in reports made before it existed
    zip_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the shape as a list)."""
        d = dataclasses.asdict(self)
        d["latency_shape"] = list(self.latency_shape) if self.latency_shape is not None else None
        return d


def _no_log(message: str) -> None:
    pass


def export_and_check(
    module: nn.Module,
    input_names: Sequence[str],
    example_inputs: tuple[Tensor, ...],
    parity_batches: list[tuple[Tensor, ...]],
    latency_inputs: tuple[Tensor, ...],
    path: str | Path,
    cfg: ExportConfig,
    log: Callable[[str], None] = _no_log,
) -> ExportReport:
    """Export to `path`, then (if cfg.check) checker and parity, then latency; the caller checks cfg.enabled."""
    result = export_onnx_detailed(
        module, tuple(example_inputs), input_names, path, opset=cfg.opset, log=log
    )
    checker_ok, checker_message = False, "not run (export.check is off)"
    diff = top1 = None
    try:
        if cfg.check:
            checker_ok, checker_message = check_model(result.path)
            log("ONNX checker: ok" if checker_ok else f"ONNX checker: {checker_message}")
        # one session for parity and latency: a second would parse and hold the weights again
        session = make_session(result.path)
        if cfg.check:
            batches = list(parity_batches)[: cfg.parity_batches]
            if batches:
                diff, top1 = compare_with_torch(
                    result.path, module, batches, input_names, session=session
                )
                log(
                    f"ONNX parity over {len(batches)} batches: max|diff| {diff:.2e}, top-1 agreement {top1:.4f}"
                )
            else:
                log("ONNX parity: no batches given, skipped")
        p50, p95 = measure_latency(
            result.path, tuple(latency_inputs), input_names, runs=cfg.latency_runs, session=session
        )
        del session  # its weights go before the zip count reads the files
    except Exception as exc:  # onnxruntime's own errors derive from Exception only
        raise ExportError(
            f"{result.path.name} was written but checking it in onnxruntime failed "
            f"({one_line_reason(exc)}) - try another export.opset"
        ) from exc
    shape = tuple(int(s) for s in latency_inputs[0].shape) if latency_inputs else None
    log(f"ONNX latency at {shape}: p50 {p50:.2f} ms, p95 {p95:.2f} ms ({cfg.latency_runs} runs)")
    size, zipped = onnx_size_bytes(result.path), onnx_zip_bytes(result.path)
    log(f"ONNX zipped: {zipped / 1e6:.2f} MB ({zipped / size:.0%} of {size / 1e6:.2f} MB)")
    return ExportReport(
        path=str(result.path),
        size_bytes=size,
        opset=result.opset,
        checker_ok=checker_ok,
        checker_message=checker_message,
        max_abs_diff=diff,
        top1_agreement=top1,
        latency_ms_p50=p50,
        latency_ms_p95=p95,
        latency_shape=shape,
        provider=ort_providers()[0],
        exporter=result.exporter,
        zip_bytes=zipped,
    )
