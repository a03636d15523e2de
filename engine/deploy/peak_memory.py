"""Peak memory of an onnxruntime session that loads a file and runs one batch.

Run as a script in a child process (`python peak_memory.py FILE BATCH SEQ THREADS`): the
process's resident-set high-water mark is the measurement, and only a fresh process has one
that belongs to this file alone. On Linux the mark is reset (write 5 to /proc/self/clear_refs)
after onnxruntime and numpy are imported, so the figure is the growth from loading the file
and running the batch: weights, the optimized graph, arena and activations. Elsewhere
(no clear_refs) the peak so far minus the resident set before loading is used. The script
imports only numpy and onnxruntime (and the feeds helper by path), never the engine.
Prints one JSON line: {"peak_mb", "baseline_mb", "method"}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MB = 1e6


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _maxrss_bytes() -> int:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024  # macOS reports bytes


def measure(path: str, batch: int, seq: int, threads: int) -> dict:
    import numpy as np  # noqa: F401  (imported before the baseline)
    import onnxruntime as ort

    sys.path.insert(0, str(Path(__file__).parent))
    from feeds import synthetic_feeds

    reset = _reset_peak() and _status_kb("VmHWM") is not None
    base_kb = _status_kb("VmRSS")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 4
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    sess.run(None, synthetic_feeds(sess.get_inputs(), batch, seq))
    if reset and base_kb is not None:
        peak, base, method = _status_kb("VmHWM") * 1024, base_kb * 1024, "VmHWM after clear_refs"
    else:
        base = (base_kb or 0) * 1024
        peak, method = _maxrss_bytes(), "ru_maxrss"
    return {"peak_mb": max(0, peak - base) / MB, "baseline_mb": base / MB, "method": method}


if __name__ == "__main__":
    file, b, s, t = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(measure(file, b, s, t)))
