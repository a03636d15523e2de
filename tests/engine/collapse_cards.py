"""Cards of a parent and its children for the collapse and ratio-wording tests (engine and GUI).

Built as `engine.report.build_card` writes them (the keys shrink_report and the pages read),
with numbers from the issue: a 135M causal LM at perplexity 38.6 whose structured-L1 child
reached 41,605.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

STRUCTURED_L1 = ("structured_prune(target=heads, amount=0.25, importance=l1, scope=layer) + "
                 "structured_prune(target=ffn, amount=0.25, importance=l1, scope=layer)")


def parent_card(metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """The unmodified baseline: 357 MB ONNX, 10 ms p50."""
    return {
        "id": "base", "name": "lm (base)", "parent": None, "status": "finished", "method": "none",
        "task": "causal-lm", "metrics": metrics or {"perplexity": 38.6, "loss": 3.653},
        "model": {"params": 134_515_008, "nonzero_params": 134_515_008,
                  "params_before": 134_515_008, "size_bytes": 538_060_032},
        "onnx": {"size_bytes": 357_000_000, "zip_bytes": 331_000_000, "latency_ms_p50": 10.0,
                 "latency_ms_p95": 11.0, "checker_ok": True, "max_abs_diff": 2e-5,
                 "provider": "CPUExecutionProvider"},
        "train": None,
    }  # fmt: skip


def child_card(
    parent: dict[str, Any], metrics: dict[str, float], method: str = STRUCTURED_L1,
    keep: float = 0.79, speedup: float = 1.26, train_steps: int = 0,
) -> dict[str, Any]:
    """A structured child: tensors cut to `keep`, `speedup` times faster, `metrics` as given."""
    card = copy.deepcopy(parent)
    params = parent["model"]["params"]
    card.update(id="child", name="pruned", parent=parent["id"], method=method, metrics=metrics,
                train={"steps": train_steps} if train_steps else None)
    card["model"].update(params=int(params * keep), nonzero_params=int(params * keep),
                         size_bytes=int(parent["model"]["size_bytes"] * keep))
    card["onnx"].update(size_bytes=int(parent["onnx"]["size_bytes"] * keep),
                        zip_bytes=int(parent["onnx"]["zip_bytes"] * keep),
                        latency_ms_p50=parent["onnx"]["latency_ms_p50"] / speedup)
    return card


def save_workspace(root: Path, cards: list[dict[str, Any]], checks: dict | None = None) -> list[str]:
    """Register each card as a finished run in a real workspace (parents first); their ids.

    A child gets its shrink report against its parent, as engine.stages writes it.
    """
    from engine.shrink import shrink_report
    from engine.store import Workspace

    ws = Workspace(root)
    ids: dict[str, str] = {}
    written: dict[str, dict[str, Any]] = {}
    for card in cards:
        card = copy.deepcopy(card)
        run = ws.new_run(card["name"], f"name: {card['name']}\n", ids.get(card["parent"] or ""))
        old_parent = card["parent"]
        ids[card["id"]] = run.id
        card.update(id=run.id, parent=ids.get(old_parent or ""))
        if checks is not None:
            card["checks"] = checks
        if old_parent:
            card["shrink"] = shrink_report(card, written[old_parent])
        written[card_key(ids, run.id)] = card
        ws.finish(run.id, card)
    return list(ids.values())


def card_key(ids: dict[str, str], run_id: str) -> str:
    return next(k for k, v in ids.items() if v == run_id)
