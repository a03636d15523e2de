"""The roofline verdicts: which group a layer belongs to, what bounds it, and what would help.

Pure functions over numbers already measured (FLOPs, bytes, milliseconds, the machine's
ridge point), so each verdict is unit-tested without timing anything. A layer whose
arithmetic intensity (flops per byte moved) is below the ridge cannot feed the arithmetic
units fast enough and is memory-bound: fewer bytes help (int8 weights, smaller
activations). Above the ridge it is compute-bound: fewer FLOPs help (structured pruning).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

GROUPS = ("attention", "mlp", "embedding", "norm", "head", "other")
GROUP_LABELS = {"attention": "Attention", "mlp": "MLP", "embedding": "Embedding",
                "norm": "Norm", "head": "Head", "other": "Other"}  # fmt: skip

# module-path segments that name a part of a transformer, across the common layouts
# (HF BERT / GPT-2 / Llama / T5 / ViT, timm, torchvision, our tiny models)
_HEAD = {"lm_head", "classifier", "head", "heads", "score", "pooler", "qa_outputs",
         "cls", "fc_out", "output_projection"}  # fmt: skip
_ATTENTION = re.compile(r"attn|attention|^(q|k|v|o)_proj$|^(query|key|value)$|^c_attn$|^qkv$")
_MLP = re.compile(r"mlp|ffn|feed_?forward|intermediate|^fc\d?$|^c_fc$|^(up|down|gate)_proj$|"
                  r"^w[123]$|^dense_h_to_4h$|^dense_4h_to_h$")
_LAYER_INDEX = re.compile(r"^\d+$")


def layer_group(name: str, type_name: str) -> str:
    """'attention' | 'mlp' | 'embedding' | 'norm' | 'head' | 'other' for a module path and class."""
    kind = type_name.lower()
    parts = [p for p in name.lower().split(".") if p]
    if "norm" in kind or (parts and parts[-1].startswith(("ln", "norm", "layernorm"))):
        return "norm"  # before embedding: BERT's embeddings.LayerNorm is a norm
    if "embedding" in kind or any("emb" in p or p in ("wte", "wpe") for p in parts):
        return "embedding"
    if any(p in _HEAD for p in parts):
        return "head"
    if any(_ATTENTION.search(p) for p in parts):
        return "attention"
    if any(_MLP.search(p) for p in parts):
        return "mlp"
    # BERT-style blocks: layer.N.output.* is the FFN's second projection (its attention
    # output sits under layer.N.attention.output, caught above)
    for i, p in enumerate(parts[1:], 1):
        if p == "output" and _LAYER_INDEX.match(parts[i - 1]):
            return "mlp"
    return "other"


def intensity(flops: float, bytes_moved: float) -> float | None:
    """Arithmetic intensity in flops per byte; None when nothing was moved."""
    return flops / bytes_moved if bytes_moved > 0 else None


def bound(flops: float, bytes_moved: float, ridge: float | None) -> str:
    """'compute' at or above the machine's ridge point, 'memory' below it, else 'unknown'."""
    ai = intensity(flops, bytes_moved)
    if ai is None or not ridge or ridge <= 0:
        return "unknown"
    return "compute" if ai >= ridge else "memory"


_ADVICE = {  # (group, bound) -> what would make it faster
    ("mlp", "memory"): "fewer bytes help — int8 weights or pruning the FFN",
    ("mlp", "compute"): "fewer FLOPs help — structured pruning of the FFN (a narrower hidden width)",
    ("attention", "memory"): "fewer bytes help — int8, shorter sequences or fewer heads",
    ("attention", "compute"): "fewer FLOPs help — pruning heads or shorter sequences",
    ("embedding", "memory"): "a table lookup: its cost is memory traffic; int8 or a smaller "
                             "vocabulary shrinks it",
    ("norm", "memory"): "elementwise work: fusing it into its neighbours (ONNX graph "
                        "optimisation) helps more than pruning",
    ("head", "memory"): "fewer bytes help — int8 weights or fewer output classes/tokens",
    ("head", "compute"): "fewer FLOPs help — a smaller vocabulary or label set",
    ("other", "memory"): "fewer bytes help — int8 or fusing elementwise operations",
    ("other", "compute"): "fewer FLOPs help — structured pruning",
}


def group_verdict(group: str, share: float, ai: float | None, kind: str,
                  ridge: float | None) -> str:
    """One plain sentence, e.g. 'MLP: 61% of the time, memory-bound at 3.1 flop/byte (ridge 25):
    fewer bytes help — int8 weights or pruning the FFN'."""
    label = GROUP_LABELS.get(group, group.capitalize())
    head = f"{label}: {share:.0%} of the time"
    if kind == "unknown" or ai is None:
        return f"{head}, bound not known (no FLOPs or bytes counted for it)"
    ridge_text = f"ridge {ridge:.3g}" if ridge else "ridge unknown"
    advice = _ADVICE.get((group, kind), _ADVICE[("other", kind)])
    if ai == 0:  # lookups, norms, activations: the FLOP counter counts matmuls and convolutions
        return f"{head}, memory-bound (moves data, no matmul FLOPs; {ridge_text}): {advice}"
    return f"{head}, {kind}-bound at {ai:.3g} flop/byte ({ridge_text}): {advice}"


def summarize_groups(layers: Iterable[Mapping[str, Any]], ridge: float | None) -> list[dict[str, Any]]:
    """The record's `groups`: per group its time, FLOPs, intensity, bound and verdict, by time."""
    totals: dict[str, dict[str, float]] = {}
    for row in layers:
        t = totals.setdefault(row["group"], {"time_ms": 0.0, "flops": 0, "bytes": 0})
        t["time_ms"] += float(row["time_ms"] or 0.0)
        t["flops"] += int(row["flops"] or 0)
        t["bytes"] += int(row["bytes_moved"] or 0)
    whole = sum(t["time_ms"] for t in totals.values())
    out = []
    for group, t in totals.items():
        share = t["time_ms"] / whole if whole > 0 else 0.0
        ai = intensity(t["flops"], t["bytes"])
        kind = bound(t["flops"], t["bytes"], ridge)
        out.append({"group": group, "time_ms": t["time_ms"], "share": share,
                    "flops": int(t["flops"]), "bytes_moved": int(t["bytes"]),
                    "intensity": ai, "bound": kind,
                    "verdict": group_verdict(group, share, ai, kind, ridge)})  # fmt: skip
    return sorted(out, key=lambda g: -g["time_ms"])


def layer_row(name: str, type_name: str, flops: int, bytes_moved: int, time_ms: float,
              total_ms: float, ridge: float | None) -> dict[str, Any]:
    """One entry of the record's `layers`, with its share, GFLOP/s, intensity and bound."""
    return {
        "name": name, "type": type_name, "group": layer_group(name, type_name),
        "flops": int(flops), "bytes_moved": int(bytes_moved), "time_ms": time_ms,
        "share": time_ms / total_ms if total_ms > 0 else 0.0,
        "gflops": flops / (time_ms * 1e6) if time_ms > 0 else None,
        "intensity": intensity(flops, bytes_moved), "bound": bound(flops, bytes_moved, ridge),
    }  # fmt: skip
