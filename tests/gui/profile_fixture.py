"""A profile record built by hand, exactly the #12 contract's keys (engine/analysis/profile.py
writes the same shape), for the Profile view's tests before and beside a real run."""

from __future__ import annotations

import copy
from typing import Any

LAYERS = [
    # name, type, group, flops, time_ms, bound
    ("transformer.h.0.attn.c_attn", "Conv1D", "attention", 6_000_000, 0.40, "compute"),
    ("transformer.h.0.mlp.c_fc", "Conv1D", "mlp", 8_000_000, 0.30, "compute"),
    ("transformer.h.0.mlp.c_proj", "Conv1D", "mlp", 8_000_000, 0.25, "compute"),
    ("transformer.wte", "Embedding", "embedding", 0, 0.05, "memory"),
    ("transformer.h.0.ln_1", "LayerNorm", "norm", 40_000, 0.90, "memory"),  # slow for its FLOPs
    ("lm_head", "Linear", "head", 4_000_000, 0.20, "compute"),
]


def profile_record(**over: Any) -> dict[str, Any]:
    """A full record; keyword arguments replace top-level keys (e.g. onnx=[], energy=[])."""
    total_ms = sum(t for *_, t, _b in LAYERS)
    layers = []
    for name, typ, group, flops, ms, bound in LAYERS:
        moved = 200_000 if bound == "memory" else 100_000
        layers.append({
            "name": name, "type": typ, "group": group, "flops": flops, "bytes_moved": moved,
            "time_ms": ms, "share": ms / total_ms, "gflops": flops / (ms * 1e6),
            "intensity": flops / moved, "bound": bound,
        })
    record: dict[str, Any] = {
        "schema": 1,
        "created": "2026-12-03T12:00:00+00:00",
        "model": {"description": "tiny-gpt (2 layers)", "task": "causal-lm", "params": 120_000,
                  "flops": 26_040_000},
        "settings": {"batch": 1, "seq": 32, "device": "cpu", "threads": 1, "runs": 5},
        "machine": {"device": "cpu", "cpu": "Test CPU", "threads": 1, "matmul_gflops": 50.0,
                    "copy_gbps": 10.0, "ridge_flops_per_byte": 5.0},
        "layers": layers,
        "groups": [
            {"group": "attention", "time_ms": 0.40, "flops": 6_000_000, "intensity": 60.0,
             "bound": "compute", "verdict": "Attention is compute-bound: 19% of the time."},
            {"group": "norm", "time_ms": 0.90, "flops": 40_000, "intensity": 0.2,
             "bound": "memory", "verdict": "Norm layers are memory-bound: 43% of the time."},
        ],
        "op_types": [
            {"op": "aten::addmm", "time_ms": 0.9, "count": 12},
            {"op": "aten::native_layer_norm", "time_ms": 0.6, "count": 5},
            {"op": "aten::softmax", "time_ms": 0.1, "count": 2},
        ],
        "whole_ms": 2.2,
        "memory": {"params_mb": 0.5, "buffers_mb": 0.1, "activation_peak_mb": 1.5,
                   "peak_source": "profiler",
                   "kv_cache": {"context": 128, "batch": 1, "layers": 2, "heads": 2,
                                "head_dim": 16, "dtype_bytes": 4, "mb": 0.03125}},
        "onnx": [{"artifact": "int8", "path": "/tmp/model.int8.onnx", "whole_ms": 1.1,
                  "op_types": [{"op": "MatMulInteger", "time_ms": 0.5, "count": 8},
                               {"op": "Softmax", "time_ms": 0.1, "count": 2}],
                  "nodes": [{"name": "/h.0/attn/MatMul", "op": "MatMulInteger", "time_ms": 0.2}]}],
        "latency": [
            {"artifact": art, "batch": b, "seq": s, "p50_ms": base * b * s / 16,
             "p95_ms": base * b * s / 16 * 1.2, "samples_per_s": 1000 * b / (base * b * s / 16)}
            for art, base in (("pytorch", 2.0), ("int8", 0.7)) for s in (16, 32) for b in (1, 4)
        ],
        "energy": [
            {"artifact": "pytorch", "source": "estimate", "label": "estimated", "watts": 15.0,
             "joules_per_inference": 0.033, "price_per_hour": 0.5, "cost_per_million": 0.31},
            {"artifact": "int8", "source": "rapl", "label": "measured", "watts": 12.0,
             "joules_per_inference": 0.013, "price_per_hour": 0.5, "cost_per_million": 0.15},
        ],
    }
    record.update(copy.deepcopy(over))
    return record
