"""The machine and library versions a report was made with (what its numbers depend on)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from engine.analysis.machine_peak import cpu_name

PACKAGES = ("model-optimization-workbench", "torch", "onnxruntime", "onnx", "transformers",
            "torch-pruning", "numpy")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def gpu_names() -> list[str]:
    """The CUDA devices torch sees (none on a CPU-only machine)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def environment() -> list[tuple[str, str]]:
    """(label, value) rows: OS, Python, CPU, cores, GPU, then the library versions."""
    gpus = gpu_names()
    rows = [("OS", platform.platform()), ("Python", platform.python_version()),
            ("CPU", cpu_name()), ("cores", str(os.cpu_count() or "?")),
            ("GPU", ", ".join(gpus) if gpus else "none (CPU only)")]
    return rows + [(name, _version(name)) for name in PACKAGES]
