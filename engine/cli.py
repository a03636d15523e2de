"""workbench-cli: run recipes headless and inspect the workspace.

Exit codes: 0 done, 1 the run failed, 2 bad input (nothing was run),
130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
from pathlib import Path

from engine.cli_format import ProgressPrinter, results_table
from engine.config_fields import ConfigError
from engine.events import Finished, Progress, event_to_json
from engine.job import Job, JobResult
from engine.recipe import Recipe
from engine.sensitivity import (
    SensitivityResult,
    apply_proposal,
    check_target,
    overall_sparsity,
    run_sensitivity,
)
from engine.shrink import shrink_report, shrink_text
from engine.store import Workspace, default_workspace, strict_json


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
    # the stored recipe never carries trust to unpickle: only this command line can give it
    recipe = Recipe.from_yaml(v.recipe).untrusted()
    if args.trust:
        recipe = recipe.replace(model=dataclasses.replace(recipe.model, trust=True))
    return _drive(Job(recipe, _listeners(args), workspace=ws, resume_run=v.id), args)


def cmd_mark_crashed(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    v = ws.get(args.run_id)
    if v.status != "running":
        raise ValueError(f"run {v.id} is {v.status}, not running; nothing to mark")
    who = ws.running_elsewhere(v.id)
    if who and not args.force:
        raise ValueError(f"run {v.id} is still running ({who}); stop that process first, or "
                         "pass --force if its lock cannot be trusted (e.g. a network file system)")
    ws.mark_crashed(v.id, "marked crashed by the user (workbench-cli mark-crashed)")
    print(f"run {v.id} marked crashed" + ("; resume it with workbench-cli resume " + v.id
                                          if ws.resumable(v.id) else ""))
    return 0


def _listeners(args: argparse.Namespace) -> list:
    if args.events_json:
        return [lambda e: print(event_to_json(e), flush=True)]
    return [] if args.quiet else [ProgressPrinter(sys.stderr)]


def _run_in_thread(job: Job) -> JobResult:
    """Run `job` in a worker thread; Ctrl+C (or SIGTERM) cancels it and waits for the end.

    The main thread waits on an Event, never on Thread.join(): on Python <= 3.12 a join
    interrupted by Ctrl+C can mark a still running thread as finished.
    """
    done = threading.Event()
    box: list[JobResult] = []

    def work() -> None:
        try:
            box.append(job.run())
        except BaseException as exc:  # Job.run reports failures itself; this is a last guard
            box.append(JobResult("failed", job.run_id, error=f"{type(exc).__name__}: {exc}"))
        finally:
            done.set()

    # SIGINT too: a process started in the background (or by a GUI started so) inherits
    # SIGINT ignored, and then Ctrl+C / the GUI's cancel would do nothing
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with contextlib.suppress(ValueError):  # not the main thread (in-process tests): no handler
        for sig in previous:
            signal.signal(sig, signal.default_int_handler)
    threading.Thread(target=work, name="workbench-job", daemon=True).start()
    told = False
    try:
        while not done.is_set():
            try:
                done.wait(0.2)
            except KeyboardInterrupt:
                print("\n" + ("still cancelling: waiting for the current step to end (kill the "
                              "process to stop at once; the run then shows as crashed)" if told
                              else "cancelling at the next batch boundary..."), file=sys.stderr)
                told = True
                job.cancel()
    finally:
        with contextlib.suppress(ValueError):
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return box[0]


def _drive(job: Job, args: argparse.Namespace) -> int:
    """Run the job, Ctrl+C cancelling it cleanly; print the outcome; return the exit code."""
    result = _run_in_thread(job)
    if result.status == "cancelled":
        what = f"run {result.run_id}" if result.run_id else "the job (before its run was registered)"
        print(f"{what} cancelled", file=sys.stderr)
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
        for warning in result.card.get("warnings") or []:
            print(f"warning: {warning}")
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
                        "missing": v.missing,
                        "warnings": v.card.get("warnings") or [],
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
    v = ws.resolve(args.run_id, any_status=True)
    card = dict(v.card) or {"id": v.id, "name": v.name, "parent": v.parent}
    card["status"] = v.status
    if v.error:
        card["error"] = v.error
    if v.missing:
        card["missing"] = v.missing
    if args.json:
        print(strict_json(card, indent=2))
    else:
        print(results_table([v]))
        if v.status == "finished" and v.parent and not v.missing:
            # recomputed: the parent may have been re-exported since this card was written
            print(shrink_text(shrink_report(v.card, _card_or_none(ws, v.parent))))
        if v.error:
            print(f"error: {v.error}")
        if v.missing:
            print(f"damaged: {v.missing}")
        for warning in v.card.get("warnings") or []:
            print(f"warning: {warning}")
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
    rs.add_argument("--trust", action="store_true",
                    help="allow unpickling the run's model file (only for files you made yourself)")
    add_ws(rs)
    rs.set_defaults(func=cmd_resume)

    mc = sub.add_parser(
        "mark-crashed", help="record a run left 'running' by a process that is gone as crashed"
    )
    mc.add_argument("run_id")
    mc.add_argument("--force", action="store_true",
                    help="even when its lock looks held (a lock the file system cannot keep)")
    add_ws(mc)
    mc.set_defaults(func=cmd_mark_crashed)

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
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.filename}: {exc.strerror}"
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a run (loading, listing): nothing to record
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"error: internal error {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
              " (set WORKBENCH_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
