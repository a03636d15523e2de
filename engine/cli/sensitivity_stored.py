"""`workbench-cli sensitivity --list` / `--show ID`: stored scans, as the GUI panel's picker shows them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.store import default_workspace


def _root(args: argparse.Namespace) -> Path:
    return Path(args.workspace or default_workspace()).expanduser()


def scan_label(head: dict[str, Any]) -> str:
    """One line for a stored scan (the GUI picker's entries say the same)."""
    if "damaged" in head:
        return f"{head['id']}  damaged: {head['damaged']}"
    levels = ",".join(f"{x:g}" for x in head.get("levels") or [])
    return (f"{head['id']}  {(head.get('created') or '')[:16].replace('T', ' ')}  "
            f"by {head.get('by')}  {head.get('recipe')}  {head.get('model')}  "
            f"{head.get('metric')}  levels {levels}  {head.get('layers')} layers  "
            f"target {float(head.get('target') or 0):.0%}")


def cmd_list_scans(args: argparse.Namespace) -> int:
    """Print the stored scans, newest first (--model keeps one model's; --json for tools)."""
    from engine.sensitivity_store import list_scans

    heads = list_scans(_root(args), args.model)
    if args.json:
        print(json.dumps(heads, indent=2))
    elif not heads:
        which = f" for {args.model}" if args.model else ""
        print(f"no sensitivity scans{which} in {_root(args)} yet "
              "(workbench-cli sensitivity RECIPE makes one)")
    else:
        for head in heads:
            print(scan_label(head))
    return 0


def cmd_show_scan(args: argparse.Namespace) -> int:
    """Print a stored scan exactly as the scan printed it (--target re-proposes, no re-run)."""
    from engine.cli.sensitivity import print_scan
    from engine.sensitivity import check_target, propose_amounts
    from engine.sensitivity_store import load_scan, scan_result

    record = load_scan(_root(args), args.show)
    result, proposal, target = scan_result(record)
    if args.target is not None:  # another target: a new proposal from the stored curves
        check_target(args.target)
        target, proposal = args.target, propose_amounts(result, args.target)
    if not args.json:
        print(f"scan {record['id']}: {record.get('recipe')} ({record.get('model')}), "
              f"{record.get('created')} by {record.get('verb')}")
    print_scan(result, proposal, target, args.json, record)
    if args.out:  # the panel's "Apply to form", on the recipe the scan was made for
        from engine.atomic_io import atomic_write_text
        from engine.recipe import Recipe
        from engine.sensitivity import apply_proposal

        recipe = Recipe.from_yaml(record["recipe_yaml"]).untrusted()  # a file never grants trust
        atomic_write_text(args.out, apply_proposal(recipe, proposal, target).to_yaml())
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
