"""onnxruntime latency of an exported .onnx file at a chosen batch and sequence length.

    .venv/bin/python bench/onnx_latency.py workspace/runs/<id>/model.onnx --batch 1 --seq 64

Inputs are synthesised from the graph's own input list: token inputs get valid ids (1)
and an all-ones mask, float inputs random values; symbolic axes named "batch" and
"sequence" take --batch and --seq, any other symbolic axis 1. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.export import measure_latency, onnx_size_bytes, ort_providers  # noqa: E402

_ORT_TO_NUMPY = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(bool)": np.bool_,
}


def _dim(d: int | str | None, batch: int, seq: int) -> int:
    if isinstance(d, int) and d > 0:
        return d
    return {"batch": batch, "sequence": seq}.get(str(d), 1)


def synth_feeds(path: Path, batch: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of the right names, dtypes and shapes for the graph at (batch, seq)."""
    rng = np.random.default_rng(seed)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for inp in sess.get_inputs():
        shape = tuple(_dim(d, batch, seq) for d in inp.shape)
        dtype = _ORT_TO_NUMPY.get(inp.type)
        if dtype is None:
            raise SystemExit(f"input {inp.name} has type {inp.type}, which this bench cannot make")
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif inp.name == "token_type_ids":
            feeds[inp.name] = np.zeros(shape, dtype)
        else:  # token ids of 1 exist in every vocabulary; masks of 1 attend everywhere
            feeds[inp.name] = np.ones(shape, dtype)
    return feeds


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, time the model, print a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx", type=Path)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (ORT default)")
    args = ap.parse_args(argv)
    feeds = synth_feeds(args.onnx, args.batch, args.seq)
    p50, p95 = measure_latency(
        args.onnx, feeds, list(feeds), warmup=args.warmup, runs=args.runs, threads=args.threads
    )
    print(
        json.dumps(
            {
                "path": str(args.onnx),
                "size_bytes": onnx_size_bytes(args.onnx),
                "provider": ort_providers()[0],
                "threads": args.threads,
                "shapes": {k: list(v.shape) for k, v in feeds.items()},
                "latency_ms_p50": round(p50, 4),
                "latency_ms_p95": round(p95, 4),
                "runs": args.runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
