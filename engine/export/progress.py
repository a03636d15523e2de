"""Progress of an export, read off its log lines (the same lines in this process or a child)."""

from __future__ import annotations

from collections.abc import Callable

# log line prefix -> (fraction of the export done, what comes next); longer prefixes last
STEPS = (
    ("ONNX export: ", 0.1, "exporting to ONNX"),
    ("ONNX export: wrote", 0.5, "checking the ONNX file"),
    ("ONNX checker", 0.6, "comparing ONNX with PyTorch"),
    ("ONNX parity", 0.8, "measuring ONNX latency"),
    ("ONNX latency", 0.95, "ONNX measured"),
)


def with_progress(log: Callable[[str], None], progress: Callable[[float, str], None]) -> Callable[[str], None]:
    """A log callback that also reports progress(fraction, message) as the export's steps pass."""
    done = [0.0]

    def relay(message: str) -> None:
        log(message)
        for prefix, fraction, what in reversed(STEPS):  # the most specific prefix first
            if message.startswith(prefix):
                if fraction > done[0]:  # a retry with another exporter never goes backwards
                    done[0] = fraction
                    progress(fraction, what)
                break

    return relay
