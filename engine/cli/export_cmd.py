"""`workbench-cli export VARIANT`: re-export a stored variant, as the Export page's button does.

It runs engine.export_variant in a ContextJob (progress events, Ctrl+C cancels and leaves the
previous ONNX file and card as they were) and leaves the same record as the GUI: the card's
`onnx` and a `history` entry saying when and by which verb.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli.commands import _listeners as job_listeners
from engine.cli.drive import run_in_thread


def open_existing_workspace(path: Path | None) -> Any:
    """The workspace at `path` (default: the user's); ValueError when there is none (none is made)."""
    from engine.store import default_workspace, existing_workspace

    ws = existing_workspace(path)
    if ws is None:
        root = Path(path or default_workspace()).expanduser()
        raise ValueError(f"no workspace at {root} (workbench-cli run makes one; -w names another)")
    return ws


def export_line(name: str, run_id: str, onnx: dict[str, Any]) -> str:
    """One line: the file, its size, checker, parity and latency."""
    diff, p50 = onnx.get("max_abs_diff"), onnx.get("latency_ms_p50")
    return (f"exported {name} ({run_id}): {onnx.get('path')} "
            f"{(onnx.get('size_bytes') or 0) / 1e6:.2f} MB, "
            f"checker {'ok' if onnx.get('checker_ok') else 'FAILED'}"
            + (f", max|diff| {diff:.2e}" if diff is not None else "")
            + (f", p50 {p50:.2f} ms" if p50 is not None else ""))


def cmd_export(args: argparse.Namespace) -> int:
    """Re-export the variant in a ContextJob; exit 0 done, 1 failed, 130 cancelled, 2 bad input."""
    from engine.context_job import ContextJob
    from engine.export_variant import export_variant, exportable

    ws = open_existing_workspace(args.workspace)
    v = exportable(ws, args.variant)  # bad input fails here, before anything runs: exit 2

    def work(ctx: Any) -> dict[str, Any]:
        return export_variant(ws, v.id, trust=args.trust, isolate=True, ctx=ctx, by="cli")

    job = ContextJob("export", work, job_listeners(args), run_id=v.id,
                     message=f"re-exporting {v.name} ({v.id})")
    result = run_in_thread(job)  # Ctrl+C cancels it (the export child is killed at once)
    if result.status == "cancelled":
        print(f"export of {v.name} ({v.id}) cancelled; its previous ONNX file and card are "
              "unchanged", file=sys.stderr)
        return 130
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    if not args.events_json:
        print(export_line(v.name, v.id, result.card))
    return 0


def add_export_command(sub: argparse._SubParsersAction) -> None:
    """Add the `export` sub-command (the Export page's Export / re-export button)."""
    ex = sub.add_parser("export", help="re-export a stored variant to ONNX, check it (checker, "
                        "parity, latency) and update its card, as the Export page does")
    ex.add_argument("variant", help="run id, or variant name (workbench-cli list shows them)")
    ex.add_argument("--events-json", action="store_true",
                    help="print events as JSON lines (for the GUI)")
    ex.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    ex.add_argument("--trust", action="store_true",
                    help="allow unpickling the variant's model file (only files you made yourself)")
    ex.add_argument("--workspace", "-w", type=Path, help="workspace holding the variant")
    ex.set_defaults(func=cmd_export)
