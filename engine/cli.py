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
from engine.events import event_to_json
from engine.job import Job
from engine.recipe import Recipe
from engine.store import Workspace, default_workspace


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(args.workspace or default_workspace())


def cmd_run(args: argparse.Namespace) -> int:
    recipe = Recipe.load(args.recipe)
    if args.name:
        recipe = recipe.replace(name=args.name)
    recipe.validate()
    listeners = []
    if args.events_json:
        listeners.append(lambda e: print(event_to_json(e), flush=True))
    elif not args.quiet:
        listeners.append(ProgressPrinter(sys.stderr))
    job = Job(recipe, listeners, workspace=_workspace(args))
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
        if v.error:
            print(f"error: {v.error}")
        print(f"folder: {ws.run_dir(v.id)}")
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

    ls = sub.add_parser("list", help="list the variants in the workspace")
    ls.add_argument("--json", action="store_true")
    add_ws(ls)
    ls.set_defaults(func=cmd_list)

    sh = sub.add_parser("show", help="show one variant's card")
    sh.add_argument("run_id", help="run id or variant name")
    sh.add_argument("--json", action="store_true")
    add_ws(sh)
    sh.set_defaults(func=cmd_show)
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
