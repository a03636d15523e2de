"""The Compare plot's x axes: what a variant or one of its ONNX files costs.

Latency p50/p95 and size are measured per file (card `artifacts`, else the export's `onnx`
section); parameters and FLOPs belong to the model, so a variant's quantized files share its
value; energy per inference comes from the variant's profile (runs/<id>/profile.json, written
by the Profile page or `workbench-cli profile`), one reading per ONNX file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.analysis.profile_store import load_profile
from engine.store import Variant

FP32_KIND = "onnx-fp32"
# axis key: (picker text, axis label); every one is a cost, so lower is better
AXES: dict[str, tuple[str, str]] = {
    "latency": ("latency p50", "ONNX latency p50 (ms, lower is better)"),
    "latency_p95": ("latency p95", "ONNX latency p95 (ms, lower is better)"),
    "size": ("file size", "ONNX file size (MB, lower is better)"),
    "params": ("parameters", "Parameters (millions, lower is better)"),
    "flops": ("FLOPs", "FLOPs per forward (millions, lower is better)"),
    "energy": ("energy", "Energy per inference (mJ, lower is better; profiled variants only)"),
}
AXIS_LABELS = {key: label for key, (_, label) in AXES.items()}
UNITS = {"latency": "ms", "latency_p95": "ms", "size": "MB", "params": "M", "flops": "MFLOPs",
         "energy": "mJ"}


def number(entry: dict[str, Any] | None, key: str) -> float | None:
    value = (entry or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def artifacts(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's artifact entries (dicts only; an older card has none)."""
    return [a for a in card.get("artifacts") or [] if isinstance(a, dict)]


class _RunFolder:
    """What load_profile needs of a workspace, from the run folder the card names."""

    def __init__(self, folder: str):
        self.folder = folder

    def run_dir(self, _run_id: str) -> Path:
        return Path(self.folder)


def energy_of(v: Variant) -> dict[str, float]:
    """Joules per inference by ONNX file kind from the variant's profile; {} when unprofiled.

    A damaged profile reads as no profile here: the Profile page names the file and the fix.
    """
    folder = ((v.card or {}).get("files") or {}).get("folder")
    if not folder:
        return {}
    try:
        profile = load_profile(_RunFolder(str(folder)), v.id)
    except (ValueError, OSError):
        return {}
    out = {}
    for e in (profile or {}).get("energy") or []:
        joules = number(e, "joules_per_inference") if isinstance(e, dict) else None
        if joules is not None:
            out[str(e.get("artifact"))] = joules
    return out


def _model_x(card: dict[str, Any], axis: str) -> float | None:
    value = number(card.get("model"), "params" if axis == "params" else "flops")
    return value / 1e6 if value is not None else None


def file_x(entry: dict[str, Any], axis: str, card: dict[str, Any] | None = None,
           energy: dict[str, float] | None = None) -> float | None:
    """An artifact entry's x value on `axis` (`card` for the model's numbers, `energy` by kind)."""
    if axis == "size":
        size = number(entry, "size_bytes")
        return size / 1e6 if size is not None else None
    if axis in ("params", "flops"):
        return _model_x(card or {}, axis)
    if axis == "energy":
        joules = (energy or {}).get(str(entry.get("kind")))
        return joules * 1e3 if joules is not None else None
    return number(entry, "latency_ms_p95" if axis == "latency_p95" else "latency_ms_p50")


def variant_x(card: dict[str, Any], axis: str, energy: dict[str, float] | None = None) -> float | None:
    """Where a variant's own (fp32) point sits on the x axis.

    With quantized files on the card, its fp32 file's latency timed side by side with them is
    used, so the fp32 → quantized line compares timings from one session (the issue's rule for
    every speed ratio); otherwise the export's ONNX numbers.
    """
    if axis in ("params", "flops"):
        return _model_x(card, axis)
    files = artifacts(card)
    fp32 = next((a for a in files if a.get("kind") == FP32_KIND), None)
    if axis == "energy":
        return file_x(fp32 or {"kind": FP32_KIND}, axis, card, energy)
    if fp32 is not None and len(files) > 1 and (x := file_x(fp32, axis)) is not None:
        return x
    key = {"size": "size_bytes", "latency_p95": "latency_ms_p95"}.get(axis, "latency_ms_p50")
    value = number(card.get("onnx"), key)
    return value / 1e6 if value is not None and axis == "size" else value


def x_text(axis: str, x: float) -> str:
    """'latency p50: 3.2 ms' — the hover line for a point's x value."""
    return f"{AXES.get(axis, AXES['latency'])[0]}: {x:.3g} {UNITS.get(axis, '')}"
