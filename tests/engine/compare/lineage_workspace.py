"""A workspace with branches, built with the store's own API (no training: cards as jobs write them).

    tiny-gpt (base)                       one baseline, reused by three recipes
    ├─ prune-50                           Unstructured pruning 50%
    │  ├─ prune-50-distilled              Distillation (its parent is the pruned variant)
    │  └─ prune-50-kd-stopped             cancelled
    ├─ int8                               with fp32 / int8-dynamic / int4 files as leaves
    └─ prune-bad                          failed (amount 1.5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.store import Variant, Workspace

PRUNE = "name: prune-50\nmethods:\n  - {type: unstructured_prune, amount: 0.5}\n"
BAD = "name: prune-bad\nmethods:\n  - {type: unstructured_prune, amount: 1.5}\n"
KD = "name: prune-50-kd-stopped\nmethods:\n  - {type: distill}\n"


def _card(ws: Workspace, v: Variant, ppl: float, ms: float, mb: float, steps: list[str],
          files: list[tuple[str, str, float, float, float]] = ()) -> dict[str, Any]:
    """A card with an fp32 export and, per file, an artifact entry; the files exist on disk."""
    folder = ws.run_dir(v.id)
    (folder / "model.onnx").write_bytes(b"0")
    arts = []
    for kind, name, size, lat, metric in files:
        (folder / name).write_bytes(b"0")
        arts.append({"kind": kind, "path": str(folder / name), "size_bytes": size * 1e6,
                     "latency_ms_p50": lat, "metrics": {"perplexity": metric}, "error": None})
    return {"id": v.id, "name": v.name, "metrics": {"perplexity": ppl}, "method": " + ".join(steps) or "none",
            "onnx": {"path": str(folder / "model.onnx"), "size_bytes": mb * 1e6, "latency_ms_p50": ms},
            "steps": [{"step": i + 1, "title": t} for i, t in enumerate(steps)], "artifacts": arts}


def _finished(ws: Workspace, name: str, parent: str | None, recipe: str, *args: Any, **kw: Any) -> Variant:
    v = ws.new_run(name, recipe, parent)
    ws.finish(v.id, _card(ws, v, *args, **kw))
    return ws.get(v.id)


def build(root: Path) -> dict[str, Variant]:
    """The workspace above at `root`; its variants by name."""
    ws = Workspace(root)
    base = _finished(ws, "tiny-gpt (base)", None, "name: base\n", 6.10, 7.1, 3.8, [])
    prune = _finished(ws, "prune-50", base.id, PRUNE, 6.32, 7.0, 3.8, ["Unstructured pruning 50%"])
    kd = _finished(ws, "prune-50-distilled", prune.id, "name: d\n", 6.21, 7.0, 3.8, ["Distillation"])
    int8 = _finished(ws, "int8", base.id, "name: int8\n", 6.10, 7.2, 3.8, ["Dynamic int8"], files=[
        ("onnx-fp32", "model.onnx", 3.8, 7.2, 6.10), ("onnx-int8-dynamic", "model.int8.onnx", 1.0, 5.0, 6.12),
        ("onnx-int4", "model.int4.onnx", 0.7, 9.5, 6.30)])
    bad = ws.new_run("prune-bad", BAD, base.id)
    ws.mark(bad.id, "failed", error="methods[0].amount must be in [0, 1), got 1.5")
    stopped = ws.new_run("prune-50-kd-stopped", KD, prune.id)
    ws.mark(stopped.id, "cancelled", error="cancelled by the user")
    assert kd.parent == prune.id and int8.parent == base.id
    return {v.name: v for v in ws.variants()}
