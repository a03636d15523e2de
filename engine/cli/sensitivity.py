"""`workbench-cli sensitivity`: per-layer pruning sensitivity and a proposal, as a table.

The scan runs as a ContextJob (progress on stderr, Ctrl+C cancels) and is stored in the
workspace (engine/sensitivity_store.py); `--list` and `--show ID` read stored scans back.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli.control_file import watching
from engine.cli.drive import run_in_thread
from engine.cli.format import ProgressPrinter
from engine.context_job import ContextJob
from engine.events import Event, Log
from engine.recipe import Recipe
from engine.sensitivity import (
    SensitivityResult,
    apply_proposal,
    check_levels,
    check_target,
    noise_summary,
    noise_warning,
    overall_sparsity,
    within_noise,
)
from engine.sensitivity_store import scan_result, sensitivity_work
from engine.store import default_workspace


def _levels(text: str) -> tuple[float, ...]:
    """'0.3,0.5,0.7' -> (0.3, 0.5, 0.7), with a one-line error for anything else."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(
            f"--levels must be comma-separated sparsities such as 0.3,0.5,0.7,0.9, got {text!r}"
        ) from None


def sensitivity_table(result: SensitivityResult, proposal: dict[str, float]) -> str:
    """Layer, params, the metric at each level, the proposed amount and whether the layer's
    change is beyond the evaluation noise, one row per layer; a warning when most are not."""
    short = "acc" if result.metric == "accuracy" else "ppl"
    cols = ["layer", "params", *(f"{short}@{lv:.0%}" for lv in result.levels), "proposed",
            "noise?"]  # fmt: skip
    rows = []
    for name, points in result.curves.items():
        at = dict(points)
        values = [f"{at[lv]:.4g}" if lv in at else "-" for lv in result.levels]
        noise = "within" if within_noise(result, name) else "beyond"
        noise = "-" if result.noise is None else noise
        rows.append(
            [name, str(result.sizes[name]), *values, f"{proposal.get(name, 0.0):.1%}", noise]
        )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in [cols, ["-" * w for w in widths], *rows]
    ]
    better = "higher" if result.higher_is_better else "lower"
    lines.insert(
        0,
        f"baseline {result.metric}: {result.baseline:.4g} ({better} is better); "
        f"{noise_summary(result)}\n",
    )
    lines.append(
        f"\nproposed overall sparsity: {overall_sparsity(result, proposal):.1%} over "
        f"{len(rows)} layers ({result.seconds:.1f}s)"
    )
    warning = noise_warning(result)
    if warning:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def scan_json(result: SensitivityResult, proposal: dict[str, float], target: float,
              record: dict[str, Any] | None = None) -> dict[str, Any]:
    """What --json prints: the curves, target, proposal, noise verdicts (and the stored scan's id)."""
    noise = {
        "within_noise": [name for name in result.curves if within_noise(result, name)],
        "warning": noise_warning(result),
    }
    stored = {k: record.get(k) for k in ("id", "created", "by")} if record else {}
    return {**result.to_dict(), "target": target, "proposal": proposal, **noise, **stored}


def print_scan(result: SensitivityResult, proposal: dict[str, float], target: float,
               as_json: bool, record: dict[str, Any] | None = None) -> None:
    """Print a scan's table and overrides (or its JSON): the same for a new and a stored scan."""
    if as_json:
        print(json.dumps(scan_json(result, proposal, target, record), indent=2))
    else:
        print(sensitivity_table(result, proposal))
        print("overrides: " + json.dumps(proposal))


def _listener(quiet: bool) -> Any:
    """Progress and log lines on stderr (the error line is printed once, at the end)."""
    printer = ProgressPrinter(sys.stderr)

    def listen(event: Event) -> None:
        if not quiet and not (isinstance(event, Log) and event.level == "error"):
            printer(event)

    return listen


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Scan a recipe's layers (stored in the workspace), or list / show stored scans."""
    from engine.cli.sensitivity_stored import cmd_list_scans, cmd_show_scan

    if args.list:
        return cmd_list_scans(args)
    if args.show:
        return cmd_show_scan(args)
    if args.recipe is None:
        raise ValueError("give a recipe file to scan, or --list / --show ID for stored scans")
    recipe = Recipe.load(args.recipe)
    levels = _levels(args.levels)
    target = 0.5 if args.target is None else args.target
    check_target(target)
    if args.eval_batches is not None and args.eval_batches < 1:
        raise ValueError(f"--eval-batches must be at least 1, got {args.eval_batches}")
    work = sensitivity_work(recipe, check_levels(levels), target, args.eval_batches,
                            args.workspace or default_workspace(), "cli")  # fmt: skip
    job = ContextJob("sensitivity", work, [_listener(args.quiet)],
                     message=f"{recipe.model.path}: each layer pruned alone")
    with watching(args.control_file, job):  # --control-file: pause / resume from outside
        result = run_in_thread(job)  # Ctrl+C cancels at the next measurement; the layer is restored
    if result.status == "cancelled":
        print("sensitivity analysis cancelled; nothing was stored", file=sys.stderr)
        return 130
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)
        return 2  # a bad recipe, model or data: nothing ran long enough to call it a failure
    record = result.card
    scan, proposal, target = scan_result(record)
    print_scan(scan, proposal, target, args.json, record)
    print(f"show it again with: workbench-cli sensitivity --show {record['id']}", file=sys.stderr)
    if args.out:
        out = apply_proposal(recipe, proposal, target)
        args.out.write_text(out.to_yaml(), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
