"""`workbench-cli check ID --target NAME` and `workbench-cli targets`: deployment targets.

`check` with --target checks a variant's deployable files (its fp32 ONNX file and every
artifact on its card) against a target: exit 0 when every requirement passes, 1 when one
fails, 2 on bad input (no such variant or target, a bad target file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.store import Workspace, default_workspace, strict_json


def cmd_check_target(args: argparse.Namespace) -> int:
    """Check the variant named by args.recipe against args.target; print or --json."""
    from engine.deploy.checks import check_card, deployable_files
    from engine.deploy.targets import get_target
    from engine.deploy.text import result_lines

    ws = Workspace(args.workspace or default_workspace())
    target = get_target(args.target, ws.root)  # ConfigError (exit 2) names the known ones
    v = ws.resolve(str(args.recipe))
    if not deployable_files(v.card):
        raise ValueError(f"variant {v.name} ({v.id}) has no ONNX file to check; export it "
                         "first (export.enabled: true, or the Export page)")
    results = check_card(v.card, [target])
    ok = all(r["passed"] for r in results)
    if args.json:
        print(strict_json({"variant": v.id, "name": v.name, "target": target.name,
                           "passed": ok, "results": results}, indent=2))
        return 0 if ok else 1
    print(f"{v.name} ({v.id}) against {target.name}: {target.description}")
    for res in results:
        print("\n".join(result_lines(res)))
    print("all requirements pass" if ok else "some requirements fail (exit 1)")
    return 0 if ok else 1


def cmd_targets(args: argparse.Namespace) -> int:
    """List the shipped and workspace targets with their limits."""
    from engine.deploy.targets import load_targets, target_files

    ws = Workspace(args.workspace or default_workspace())
    targets = load_targets(ws.root)
    files = target_files(ws.root)
    if args.json:
        from engine.config_fields import config_to_dict

        print(strict_json({n: {**config_to_dict(t), "file": str(files[n])}
                           for n, t in targets.items()}, indent=2))
        return 0
    for name, t in targets.items():
        print(f"{name:<12} {t.description}\n{'':<12} {t.limits_text()}\n{'':<12} {files[name]}")
    return 0


def add_targets_command(sub: argparse._SubParsersAction) -> None:
    """Add the `targets` sub-command."""
    tg = sub.add_parser("targets", help="list the deployment targets (shipped and the "
                        "workspace's targets/*.yaml) with their limits")
    tg.add_argument("--json", action="store_true")
    tg.add_argument("--workspace", "-w", type=Path, help="workspace folder")
    tg.set_defaults(func=cmd_targets)

