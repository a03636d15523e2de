"""The workspace commands: run, resume, mark-crashed, list, show."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from engine.cli.drive import drive
from engine.cli.format import ProgressPrinter, results_table
from engine.events import event_to_json
from engine.job import Job
from engine.recipe import Recipe
from engine.shrink import shrink_report, shrink_text
from engine.store import Workspace, default_workspace, strict_json


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(args.workspace or default_workspace())


def cmd_run(args: argparse.Namespace) -> int:
    recipe = Recipe.load(args.recipe)
    if args.name:
        recipe = recipe.replace(name=args.name)
    recipe.validate()
    return drive(Job(recipe, _listeners(args), workspace=_workspace(args)), args)


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
    return drive(Job(recipe, _listeners(args), workspace=ws, resume_run=v.id), args)


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


def _card_or_none(ws: Workspace, run_id: str) -> dict | None:
    try:
        return ws.get(run_id).card
    except KeyError:
        return None
