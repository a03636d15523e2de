"""Does a freshly exported file behave like the module at a shape it was not traced at?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from engine.export.errors import BrokenExport
from engine.export.exporters import ExportRequest
from engine.export.runtime import (
    describe_ort_error,
    feeds_for,
    make_session,
    max_abs_diff,
    ort_logits,
    torch_logits,
)
from engine.export.shapes import fixed_axes, one_larger

# The probe catches broken graphs (wrong shapes, baked-in sizes), not float noise, so
# it allows far more than the fp32 parity the report measures.
PROBE_TOLERANCE = 1e-3


def check_dynamic_axes(staged: Path, req: ExportRequest) -> None:
    """Raise BrokenExport when an axis asked to be dynamic was written with a fixed size."""
    fixed = fixed_axes(onnx.load(str(staged), load_external_data=False), req.axes)
    if fixed:
        raise BrokenExport(f"dynamic axes came out fixed: {', '.join(fixed)}")


def probe_export(staged: Path, req: ExportRequest) -> str:
    """Run `staged` in onnxruntime one step past the example shape; raise BrokenExport if wrong."""
    if not req.axes:
        return "not probed (no dynamic axes)"
    bigger = one_larger(req.args, req.names, req.axes)
    shape = tuple(bigger[0].shape)
    try:
        ref = torch_logits(req.module, bigger)
    except Exception:
        return f"not probed (the model itself rejects input shape {shape})"
    try:
        session = make_session(staged, quiet=True)
        got = ort_logits(session, feeds_for(session, bigger, req.names))
    except Exception as exc:
        raise BrokenExport(
            f"onnxruntime fails at input shape {shape}: {describe_ort_error(exc)}"
        ) from exc
    if got.shape != ref.shape:
        raise BrokenExport(f"logits {got.shape} instead of {ref.shape} at input shape {shape}")
    finite = np.abs(ref[np.isfinite(ref)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    diff = max_abs_diff(got, ref)
    if not diff <= PROBE_TOLERANCE * scale:
        raise BrokenExport(f"wrong logits at input shape {shape} (max|diff| {diff:.2e})")
    return f"verified in onnxruntime at input shape {shape}"
