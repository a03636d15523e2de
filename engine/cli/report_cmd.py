"""`workbench-cli report ID... --out report.html`: a self-contained HTML report on variants.

One file, no external links: each variant's card and files with their own measured numbers,
its recipe and pipeline flowchart, the recipe changes between the variants, the lineage
tree, deployment target checks, Pareto plots and training curves (PNG, embedded), and the
environment. The Compare page's Report button writes the same file (engine.compare.report_html).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_report_command(sub: argparse._SubParsersAction) -> None:
    """Add the `report` sub-command."""
    r = sub.add_parser("report", help="write a self-contained HTML report on variants (cards, "
                       "recipes, flowcharts, lineage, target checks, plots, environment)")
    r.add_argument("variants", nargs="*", metavar="ID",
                   help="run ids or variant names, in the report's order (default: every variant)")
    r.add_argument("--out", "-o", type=Path, default=Path("report.html"),
                   help="the HTML file to write (replaced if it exists; default report.html)")
    r.add_argument("--target", action="append", default=[], metavar="NAME",
                   help="also check the variants' files against this deployment target now "
                   "(repeatable; workbench-cli targets lists them); stored checks are always shown")
    r.add_argument("--workspace", "-w", type=Path, help="workspace folder")
    r.set_defaults(func=cmd_report)


def _writable(out: Path) -> None:
    """Refuse an --out that cannot be written before any work is done."""
    out = out.expanduser()
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'report.html'}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"--out {out}: the folder {folder} does not exist; create it or "
                         "choose another file")
    import os

    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out {out}: the folder {folder} is not writable; choose a folder "
                         "you can write to")


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report and say where it went."""
    from engine.cli.export_cmd import open_existing_workspace
    from engine.compare.report_html import write_report

    _writable(args.out)
    ws = open_existing_workspace(args.workspace)  # a report never creates a workspace
    if args.variants:
        variants = [ws.one(name) for name in args.variants]
    else:
        variants = ws.variants()
        if not variants:
            raise ValueError(f"no variants yet in {ws.root}: run a recipe first")

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    out = write_report(ws, variants, args.out, args.target, log)
    print(f"report on {len(variants)} variant(s) written to {out.resolve()}")
    return 0
