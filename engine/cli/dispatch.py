"""The argument parser and `main()`: every failure becomes one line and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.cli.anatomy import add_inspect_command
from engine.cli.check import add_check_command
from engine.cli.commands import (
    cmd_control,
    cmd_delete,
    cmd_export_csv,
    cmd_list,
    cmd_mark_crashed,
    cmd_rename,
    cmd_resume,
    cmd_run,
    cmd_show,
)
from engine.cli.compare_cmds import add_compare_command
from engine.cli.export_cmd import add_export_command
from engine.cli.launch_cmd import add_launch_command
from engine.cli.pareto_cmd import add_pareto_command
from engine.cli.profile_cmd import add_profile_command
from engine.cli.report_cmd import add_report_command
from engine.cli.sensitivity import cmd_sensitivity
from engine.cli.target_cmds import add_targets_command
from engine.cli.tracking_opts import add_tracking_options
from engine.cli.tree_cmd import add_tree_command
from engine.config_fields import ConfigError


def add_workspace_option(sp: argparse.ArgumentParser) -> None:
    """Add the --workspace/-w option every sub-command takes."""
    sp.add_argument(
        "--workspace",
        "-w",
        type=Path,
        help="workspace folder (default: $WORKBENCH_WORKSPACE "
        "or ~/.local/share/workbench/workspace)",
    )


def add_run_commands(sub: argparse._SubParsersAction) -> None:
    """Add the sub-commands that start or settle a run: run, resume, mark-crashed."""
    r = sub.add_parser("run", help="run a recipe file")
    r.add_argument("recipe", type=Path)
    r.add_argument("--name", help="override the recipe's variant name")
    r.add_argument(
        "--events-json", action="store_true", help="print events as JSON lines (for the GUI)"
    )
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r.add_argument("--control-file", type=Path, metavar="PATH",
                   help="pause/resume from outside: the job pauses while PATH says 'pause' and "
                   "goes on when it says 'run' (every rank of a multi-process run with it)")
    add_tracking_options(r)  # --mlflow URI (engine/cli/tracking_opts.py)
    add_workspace_option(r)
    r.set_defaults(func=cmd_run)

    rs = sub.add_parser("resume", help="continue a cancelled or crashed run from its train_state.pt")
    rs.add_argument("run_id", help="the run id (workbench-cli list shows them)")
    rs.add_argument("--events-json", action="store_true", help="print events as JSON lines")
    rs.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    rs.add_argument("--trust", action="store_true",
                    help="allow unpickling the run's model file (only for files you made yourself)")
    add_tracking_options(rs)
    add_workspace_option(rs)
    rs.set_defaults(func=cmd_resume)

    mc = sub.add_parser(
        "mark-crashed", help="record a run left 'running' by a process that is gone as crashed"
    )
    mc.add_argument("run_id")
    mc.add_argument("--force", action="store_true",
                    help="even when its lock looks held (a lock the file system cannot keep)")
    add_workspace_option(mc)
    mc.set_defaults(func=cmd_mark_crashed)


def add_variant_commands(sub: argparse._SubParsersAction) -> None:
    """Add the sub-commands that read or edit stored variants: list, show, delete, rename,
    export-csv, control."""
    ls = sub.add_parser("list", help="list the variants in the workspace")
    ls.add_argument("--json", action="store_true")
    add_workspace_option(ls)
    ls.set_defaults(func=cmd_list)

    sh = sub.add_parser("show", help="show one variant's card")
    sh.add_argument("run_id", help="run id or variant name")
    sh.add_argument("--json", action="store_true")
    add_workspace_option(sh)
    sh.set_defaults(func=cmd_show)

    de = sub.add_parser("delete", help="delete a variant: its index entry and its run folder")
    de.add_argument("variant", help="run id, or a name only one variant has")
    add_workspace_option(de)
    de.set_defaults(func=cmd_delete)

    rn = sub.add_parser("rename", help="give a variant a new name")
    rn.add_argument("variant", help="run id, or a name only one variant has")
    rn.add_argument("new_name")
    add_workspace_option(rn)
    rn.set_defaults(func=cmd_rename)

    ex = sub.add_parser("export-csv", help="write every variant as one CSV row ('-' for stdout)")
    ex.add_argument("file", type=Path)
    add_workspace_option(ex)
    ex.set_defaults(func=cmd_export_csv)

    co = sub.add_parser(
        "control", help="write the dense fine-tuned control recipe of a variant (the fair parent)"
    )
    co.add_argument("variant", help="run id or variant name")
    co.add_argument("--out", "-o", type=Path, help="recipe file (default: <name>-dense-control.yaml)")
    add_workspace_option(co)
    co.set_defaults(func=cmd_control)


def add_sensitivity_command(sub: argparse._SubParsersAction) -> None:
    """Add the `sensitivity` sub-command (per-layer scan and proposal; stored scans)."""
    se = sub.add_parser(
        "sensitivity",
        help="prune one layer at a time, measure the metric, propose per-layer amounts "
        "(stored in the workspace; --list / --show ID read them back)",
    )
    se.add_argument("recipe", type=Path, nargs="?", help="recipe file to scan")
    se.add_argument(
        "--levels", default="0.25,0.5,0.7,0.8,0.9", help="sparsities to try per layer (0.3,0.5,...)"
    )
    se.add_argument("--target", type=float,
                    help="overall sparsity the proposal reaches (default 0.5; with --show: "
                    "a new proposal from the stored curves)")
    se.add_argument(
        "--eval-batches",
        type=int,
        help="validation batches per measurement (default: train.eval_batches, else 8)",
    )
    se.add_argument("--json", action="store_true", help="print the curves and proposal as JSON")
    se.add_argument(
        "--out", type=Path, help="write the recipe with the proposal as pruning overrides "
        "(with --show: the stored scan's recipe)"
    )
    se.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    se.add_argument("--control-file", type=Path, metavar="PATH",
                    help="hold the scan while PATH says 'pause', go on when it says 'run' "
                    "(as run --control-file; Ctrl+C still cancels)")
    stored = se.add_mutually_exclusive_group()
    stored.add_argument("--list", action="store_true", help="list the stored scans, newest first")
    stored.add_argument("--show", metavar="ID", help="print a stored scan (no re-run)")
    se.add_argument("--model", help="with --list: only scans of this model (source:path, "
                    "e.g. builtin:tiny-gpt)")
    add_workspace_option(se)
    se.set_defaults(func=cmd_sensitivity)


def build_parser() -> argparse.ArgumentParser:
    """The workbench-cli argument parser with every sub-command."""
    p = argparse.ArgumentParser(
        prog="workbench-cli", description="Model Optimization Workbench, headless"
    )
    sub = p.add_subparsers(dest="command", required=True)
    add_run_commands(sub)
    add_variant_commands(sub)
    add_sensitivity_command(sub)
    add_inspect_command(sub)
    add_check_command(sub)
    add_launch_command(sub)
    add_profile_command(sub)
    add_targets_command(sub)
    add_compare_command(sub)
    add_tree_command(sub)
    add_report_command(sub)
    add_export_command(sub)
    add_pareto_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse argv, run the sub-command, and turn every failure into one line and an exit code."""
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
