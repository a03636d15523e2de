"""ORT Mobile checks: does the file convert to .ort, and which operators NNAPI/CoreML cannot run.

Both use onnxruntime's own tools (onnxruntime.tools.convert_onnx_models_to_ort and
onnxruntime.tools.mobile_helpers.usability_checker), as the ORT Mobile docs tell users to;
the checker's lists of supported operators ship with onnxruntime.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import onnx

MB = 1e6
# usability_checker's files of supported operators, per accelerator
EP_FILES = {"nnapi": None, "coreml": "coreml_supported_mlprogram_ops.md"}
EP_LABELS = {"nnapi": "NNAPI (Android)", "coreml": "CoreML (iOS)"}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def ort_conversion(path: Path) -> dict[str, Any]:
    """Convert to .ort in a temp folder: {ok, ort_mb, message}; a failure carries ORT's message."""
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)  # "Created config in"
    with tempfile.TemporaryDirectory(prefix="wb-ort-") as tmp:
        out = io.StringIO()  # the converter prints its progress
        try:
            with contextlib.redirect_stdout(out):
                convert_onnx_models_to_ort(Path(path), output_dir=Path(tmp),
                                           optimization_styles=[OptimizationStyle.Fixed],
                                           target_platform="arm")
        except Exception as exc:  # onnxruntime raises plain Exceptions (unknown op, bad graph)
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return {"ok": False, "ort_mb": None, "message": msg[:300]}
        files = list(Path(tmp).rglob("*.ort"))
        if not files:
            return {"ok": False, "ort_mb": None, "message": _last_line(out.getvalue())
                    or "the converter wrote no .ort file"}
        return {"ok": True, "ort_mb": files[0].stat().st_size / MB, "message": ""}


def _basic_optimized(path: Path, tmp: Path) -> onnx.ModelProto:
    """The graph as ORT Mobile sees it: optimized to BASIC first, as the converter does."""
    from onnxruntime.tools.onnx_model_utils import optimize_model

    out = tmp / "basic.onnx"
    optimize_model(Path(path), out, use_external_initializers=True)
    return onnx.load(str(out))


def ep_support(path: Path, eps: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per accelerator: {unsupported: [op names], supported_nodes, nodes, partitions, verdict}."""
    from onnxruntime.tools.mobile_helpers import usability_checker as uc

    logging.getLogger("usability_checker").setLevel(logging.ERROR)
    found: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="wb-mobile-") as tmp:
        model = _basic_optimized(Path(path), Path(tmp))
        for ep in eps:
            if ep == "nnapi":
                info = uc.check_nnapi_partitions(model, require_fixed_input_sizes=False)
            else:
                info = uc.check_coreml_partitions(model, False, EP_FILES[ep])
            found[ep] = {
                "unsupported": sorted(op.split(":", 1)[-1] for op in info.unsupported_ops),
                "supported_nodes": info.num_supported_nodes, "nodes": info.num_nodes,
                "partitions": info.num_partitions, "verdict": info.suitability().name,
            }
    return found
