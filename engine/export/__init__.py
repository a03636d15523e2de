"""Export a PyTorch model to ONNX and check it in onnxruntime.

`export_onnx` writes the file (dynamo exporter first, TorchScript exporter as fallback,
dynamic batch/sequence axes, atomic write); `export_and_check` adds onnx.checker,
parity against PyTorch and latency, and returns an `ExportReport`.
"""

from engine.export.errors import ExportError
from engine.export.onnx_export import export_onnx
from engine.export.report import ExportReport, export_and_check
from engine.export.runtime import (
    check_model,
    compare_with_torch,
    measure_latency,
    onnx_size_bytes,
    onnx_zip_bytes,
    ort_providers,
)
from engine.export.shapes import default_dynamic_axes

__all__ = [
    "ExportError",
    "ExportReport",
    "check_model",
    "compare_with_torch",
    "default_dynamic_axes",
    "export_and_check",
    "export_onnx",
    "measure_latency",
    "onnx_size_bytes",
    "onnx_zip_bytes",
    "ort_providers",
]
