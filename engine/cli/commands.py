"""The workspace commands: run, resume, mark-crashed, list, show, delete, rename, export-csv."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from engine.cli.control_file import watching
from engine.cli.drive import drive
from engine.cli.format import ProgressPrinter, results_table
from engine.cli.relay import relay_run, run_rank, under_torchrun, wants_torchrun
from engine.cli.tracking_opts import tracking_listeners
from engine.deploy.config import use_workspace
from engine.deploy.text import card_check_lines
from engine.events import Event, Log, event_to_json
from engine.export_variant import history_lines
from engine.fair_parent import PARENT_NOTE, comparison_parent, control_recipe, needs_control
from engine.job import Job
from engine.methods.distill.teacher_link import teacher_lines
from engine.recipe import Recipe
from engine.shrink import shrink_report, shrink_text
from engine.store import Variant, Workspace, atomic_write_text, default_workspace, strict_json
from engine.variants_csv import variants_csv, write_variants_csv


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(args.workspace or default_workspace())


def cmd_run(args: argparse.Namespace) -> int:
    recipe = Recipe.load(args.recipe)
    if args.name:
        recipe = recipe.replace(name=args.name)
    use_workspace(args.workspace or default_workspace())  # deploy.targets may name its own
    recipe.validate()
    listeners = _listeners(args)  # --mlflow / $MLFLOW_TRACKING_URI: one more (engine.tracking)
    listeners += tracking_listeners(args, listeners, args.workspace or default_workspace(),
                                    args.recipe.resolve())
    if wants_torchrun(recipe):  # more than one process: torchrun starts them, we relay rank 0
        return relay_run(args, recipe, listeners)
    if under_torchrun():  # one of torchrun's ranks
        return run_rank(args, recipe, listeners)
    job = Job(recipe, listeners, workspace=_workspace(args))
    with watching(args.control_file, job):  # --control-file: pause/resume from outside
        return drive(job, args)


def cmd_resume(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    try:
        v = ws.get(args.run_id)
    except KeyError:
        raise ValueError(f"no run {args.run_id!r} in {ws.root} (workbench-cli list shows them)") from None
    # the stored recipe never carries trust to unpickle: only this command line can give it
    recipe = Recipe.from_yaml(v.recipe).untrusted()
    if recipe.train.processes > 1:  # every rank would have to read rank 0's state: not yet
        raise ValueError(f"run {v.id} trained with {recipe.train.processes} processes (ddp); "
                         "resuming a multi-process run is not supported yet: run its recipe again")
    if args.trust:
        recipe = recipe.replace(model=dataclasses.replace(recipe.model, trust=True))
    listeners = _listeners(args)
    listeners += tracking_listeners(args, listeners, ws)  # continues the run's MLflow run
    return drive(Job(recipe, listeners, workspace=ws, resume_run=v.id), args)


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
        # the stream as it is now: the quantizer's quiet mode redirects sys.stdout while an
        # int8 step runs, and its live events must still reach the GUI's process runner
        out = sys.stdout
        return [lambda e: print(event_to_json(e), file=out, flush=True)]
    if args.quiet:
        return []
    printer = ProgressPrinter(sys.stderr)

    def listen(event: Event) -> None:
        # a failed job's error comes as a Log event, then drive prints it as the last line:
        # once is enough, and the last line is where people look
        if not (isinstance(event, Log) and event.level == "error"):
            printer(event)

    return [listen]


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
            _print_comparison(ws, v)
        for line in teacher_lines(v, ws.variants()):  # a distilled student next to its teacher
            print(line)
        for line in card_check_lines(v.card):  # deploy.targets: each file's verdict
            print(line)
        for line in history_lines(v.card):  # re-exports: when, by the GUI or which verb
            print(line)
        if v.error:
            print(f"error: {v.error}")
        if v.missing:
            print(f"damaged: {v.missing}")
        for warning in v.card.get("warnings") or []:
            print(f"warning: {warning}")
        print(f"folder: {ws.run_dir(v.id)}")
    return 0


def _print_comparison(ws: Workspace, v: Variant) -> None:
    """Did it shrink, against the fair parent (the dense control when there is one)."""
    variants = ws.variants()
    compared, kind = comparison_parent(variants, v)
    if kind == "control" and compared is not None:
        print(f"compared with the dense fine-tuned control {compared.name} ({compared.id}) "
              "instead of the untrained parent")
    # recomputed: the parent may have been re-exported since this card was written
    against = "control" if kind == "control" else "parent"
    print(shrink_text(shrink_report(v.card, compared.card if compared else None, against)))
    if kind == "parent" and compared is not None and needs_control(v, compared.card):
        print(f"note: {PARENT_NOTE}; for a fair parent run the dense fine-tuned control "
              f"(same model, data and training, no methods): workbench-cli control {v.id}")


def cmd_delete(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    v = ws.delete(ws.one(args.variant).id)
    children = [x.name for x in ws.variants() if x.parent == v.id]
    print(f"deleted {v.name} ({v.id}) and its run folder" + (
        f"; {len(children)} variant(s) derived from it keep their files ({', '.join(children)})"
        if children else ""))
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    v = ws.one(args.variant)
    ws.rename(v.id, args.new_name)
    print(f"renamed {v.name} ({v.id}) to {args.new_name}")
    return 0


def cmd_export_csv(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    variants = ws.variants()
    if str(args.file) == "-":
        sys.stdout.write(variants_csv(variants))
        return 0
    path = write_variants_csv(variants, args.file)
    print(f"wrote {len(variants)} variant(s) to {path}")
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    """Write the dense fine-tuned control recipe of a variant (to run it: workbench-cli run)."""
    ws = _workspace(args)
    recipe = control_recipe(ws.one(args.variant))
    out = args.out or Path(f"{recipe.name}.yaml")
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: give a file path in an existing folder")
    atomic_write_text(out, recipe.to_yaml())
    print(f"wrote {out}; run it with: workbench-cli run {out}")
    return 0
