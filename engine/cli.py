"""workbench-cli: run recipes headless and inspect the workspace.

Exit codes: 0 done, 1 the run failed, 2 bad input (nothing was run),
130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from engine.cli_format import ProgressPrinter, results_table
from engine.config_fields import ConfigError
from engine.events import Finished, Progress, event_to_json
from engine.job import Job
from engine.recipe import Recipe
from engine.sensitivity import (
    SensitivityResult,
    apply_proposal,
    check_target,
    overall_sparsity,
    run_sensitivity,
)
from engine.shrink import shrink_report, shrink_text
from engine.store import Workspace, default_workspace


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(args.workspace or default_workspace())


def cmd_run(args: argparse.Namespace) -> int:
    recipe = Recipe.load(args.recipe)
    if args.name:
        recipe = recipe.replace(name=args.name)
    recipe.validate()
    return _drive(Job(recipe, _listeners(args), workspace=_workspace(args)), args)


def cmd_resume(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    try:
        v = ws.get(args.run_id)
    except KeyError:
        raise ValueError(f"no run {args.run_id!r} in {ws.root} (workbench-cli list shows them)") from None
    recipe = Recipe.from_yaml(v.recipe)
    return _drive(Job(recipe, _listeners(args), workspace=ws, resume_run=v.id), args)


def _listeners(args: argparse.Namespace) -> list:
    if args.events_json:
        return [lambda e: print(event_to_json(e), flush=True)]
    return [] if args.quiet else [ProgressPrinter(sys.stderr)]


def _drive(job: Job, args: argparse.Namespace) -> int:
    """Run `job` in a worker thread so Ctrl+C can cancel it cleanly; print the outcome."""
    result_box: list = []
    worker = threading.Thread(target=lambda: result_box.append(job.run()), daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        print("\ncancelling at the next batch boundary...", file=sys.stderr)
        job.cancel()
        worker.join()
    result = result_box[0]
    if result.status == "cancelled":
        print(f"run {result.run_id} cancelled", file=sys.stderr)
        return 130
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)
        return 2 if result.run_id is None else 1
    if not args.events_json:
        ws = _workspace(args)
        rows = [ws.get(i) for i in (result.parent_id, result.run_id) if i]
        print(results_table(rows))
        if result.card.get("shrink"):
            print("\n" + shrink_text(result.card["shrink"]))
        print(f"\nrun id: {result.run_id}   folder: {ws.run_dir(result.run_id)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    variants = ws.variants()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": v.id,
                        "name": v.name,
                        "parent": v.parent,
                        "status": v.status,
                        **{k: v.card.get(k) for k in ("metrics", "sparsity")},
                    }
                    for v in variants
                ],
                indent=2,
            )
        )
    elif not variants:
        print(f"no variants yet in {ws.root}")
    else:
        print(results_table(variants))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    try:
        v = ws.get(args.run_id)
    except KeyError:
        v = ws.resolve(args.run_id)
    card = dict(v.card) or {"id": v.id, "name": v.name, "parent": v.parent}
    card["status"] = v.status
    if v.error:
        card["error"] = v.error
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        print(results_table([v]))
        if v.status == "finished" and v.parent:
            # recomputed: the parent may have been re-exported since this card was written
            print(shrink_text(shrink_report(v.card, _card_or_none(ws, v.parent))))
        if v.error:
            print(f"error: {v.error}")
        print(f"folder: {ws.run_dir(v.id)}")
    return 0


def _levels(text: str) -> tuple[float, ...]:
    """'0.3,0.5,0.7' -> (0.3, 0.5, 0.7), with a one-line error for anything else."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(
            f"--levels must be comma-separated sparsities such as 0.3,0.5,0.7,0.9, got {text!r}"
        ) from None


def sensitivity_table(result: SensitivityResult, proposal: dict[str, float]) -> str:
    """Layer, params, the metric at each level and the proposed amount, one row per layer."""
    short = "acc" if result.metric == "accuracy" else "ppl"
    cols = ["layer", "params", *(f"{short}@{lv:.0%}" for lv in result.levels), "proposed"]
    rows = []
    for name, points in result.curves.items():
        at = dict(points)
        values = [f"{at[lv]:.4g}" if lv in at else "-" for lv in result.levels]
        rows.append([name, str(result.sizes[name]), *values, f"{proposal.get(name, 0.0):.1%}"])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in [cols, ["-" * w for w in widths], *rows]
    ]
    better = "higher" if result.higher_is_better else "lower"
    lines.insert(0, f"baseline {result.metric}: {result.baseline:.4g} ({better} is better)\n")
    lines.append(
        f"\nproposed overall sparsity: {overall_sparsity(result, proposal):.1%} over "
        f"{len(rows)} layers ({result.seconds:.1f}s)"
    )
    return "\n".join(lines)


def _card_or_none(ws: Workspace, run_id: str) -> dict | None:
    try:
        return ws.get(run_id).card
    except KeyError:
        return None


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
        print(json.dumps({**result.to_dict(), "target": args.target, "proposal": proposal}, indent=2))
    else:
        print(sensitivity_table(result, proposal))
        print("overrides: " + json.dumps(proposal))
    if args.out:
        out = apply_proposal(recipe, proposal, args.target)
        args.out.write_text(out.to_yaml(), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench-cli", description="Model Optimization Workbench, headless"
    )
    sub = p.add_subparsers(dest="command", required=True)

    def add_ws(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--workspace",
            "-w",
            type=Path,
            help="workspace folder (default: $WORKBENCH_WORKSPACE "
            "or ~/.local/share/workbench/workspace)",
        )

    r = sub.add_parser("run", help="run a recipe file")
    r.add_argument("recipe", type=Path)
    r.add_argument("--name", help="override the recipe's variant name")
    r.add_argument(
        "--events-json", action="store_true", help="print events as JSON lines (for the GUI)"
    )
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_ws(r)
    r.set_defaults(func=cmd_run)

    rs = sub.add_parser("resume", help="continue a cancelled or crashed run from its train_state.pt")
    rs.add_argument("run_id", help="the run id (workbench-cli list shows them)")
    rs.add_argument("--events-json", action="store_true", help="print events as JSON lines")
    rs.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_ws(rs)
    rs.set_defaults(func=cmd_resume)

    ls = sub.add_parser("list", help="list the variants in the workspace")
    ls.add_argument("--json", action="store_true")
    add_ws(ls)
    ls.set_defaults(func=cmd_list)

    sh = sub.add_parser("show", help="show one variant's card")
    sh.add_argument("run_id", help="run id or variant name")
    sh.add_argument("--json", action="store_true")
    add_ws(sh)
    sh.set_defaults(func=cmd_show)

    se = sub.add_parser(
        "sensitivity",
        help="prune one layer at a time, measure the metric, propose per-layer amounts",
    )
    se.add_argument("recipe", type=Path)
    se.add_argument(
        "--levels", default="0.25,0.5,0.7,0.8,0.9", help="sparsities to try per layer (0.3,0.5,...)"
    )
    se.add_argument(
        "--target", type=float, default=0.5, help="overall sparsity the proposal reaches"
    )
    se.add_argument(
        "--eval-batches",
        type=int,
        help="validation batches per measurement (default: train.eval_batches, else 8)",
    )
    se.add_argument("--json", action="store_true", help="print the curves and proposal as JSON")
    se.add_argument(
        "--out", type=Path, help="write the recipe with the proposal as pruning overrides"
    )
    add_ws(se)
    se.set_defaults(func=cmd_sensitivity)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, KeyError, ValueError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
