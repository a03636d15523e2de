"""`workbench-cli sensitivity`: per-layer pruning sensitivity and a proposal, as a table."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.format import ProgressPrinter
from engine.events import Finished, Progress
from engine.recipe import Recipe
from engine.sensitivity import (
    SensitivityResult,
    apply_proposal,
    check_target,
    noise_summary,
    noise_warning,
    overall_sparsity,
    run_sensitivity,
    within_noise,
)
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


def cmd_sensitivity(args: argparse.Namespace) -> int:
    recipe = Recipe.load(args.recipe)
    levels = _levels(args.levels)
    check_target(args.target)
    if args.eval_batches is not None and args.eval_batches < 1:
        raise ValueError(f"--eval-batches must be at least 1, got {args.eval_batches}")
    printer = ProgressPrinter(sys.stderr)
    try:
        result, proposal = run_sensitivity(
            recipe,
            levels,
            args.target,
            args.eval_batches,
            progress=lambda fraction, message: printer(Progress(fraction, message)),
            workspace=args.workspace or default_workspace(),
        )
    except KeyboardInterrupt:  # the analysis restores the layer it was measuring; nothing to undo
        print("\nsensitivity analysis cancelled", file=sys.stderr)
        return 130
    printer(Finished("sensitivity"))
    if args.json:
        noise = {
            "within_noise": [name for name in result.curves if within_noise(result, name)],
            "warning": noise_warning(result),
        }
        data = {**result.to_dict(), "target": args.target, "proposal": proposal, **noise}
        print(json.dumps(data, indent=2))
    else:
        print(sensitivity_table(result, proposal))
        print("overrides: " + json.dumps(proposal))
    if args.out:
        out = apply_proposal(recipe, proposal, args.target)
        args.out.write_text(out.to_yaml(), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
