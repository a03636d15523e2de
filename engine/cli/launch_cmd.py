"""`workbench-cli launch RECIPE --nnodes N --nproc-per-node G [--print]`.

Prints (--print) or runs this node's torchrun command for the recipe, and writes a Slurm
batch script next to the recipe (RECIPE-stem.slurm) that starts the same job on N nodes, so a
job that outgrows this machine runs on a cluster with the same recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from engine.recipe import Recipe
from engine.store import atomic_write_text
from engine.train.device_checks import resolved_device_type
from engine.train.launch import (
    SLURM_HEAD,
    Launch,
    child_env,
    job_args,
    local_argv,
    shell_line,
    slurm_path,
    slurm_script,
    torchrun_argv,
)


def add_launch_command(sub: argparse._SubParsersAction) -> None:
    """Add the `launch` sub-command."""
    la = sub.add_parser(
        "launch", help="print or run a recipe's torchrun command and write its Slurm script"
    )
    la.add_argument("recipe", type=Path)
    la.add_argument("--nnodes", type=int, help="nodes (default: the recipe's train.nnodes)")
    la.add_argument("--nproc-per-node", type=int,
                    help="processes per node (default: the recipe's train.nproc_per_node)")
    la.add_argument("--node-rank", type=int, help="this node's rank (default: the recipe's)")
    la.add_argument("--rdzv-endpoint", help="host:port of the rendezvous (the first node's)")
    la.add_argument("--print", action="store_true", dest="print_only",
                    help="print the command and write the Slurm script; do not run")
    la.add_argument("--workspace", "-w", type=Path, help="workspace folder for the run")
    la.set_defaults(func=cmd_launch)


def launch_recipe(args: argparse.Namespace) -> Recipe:
    """The recipe with strategy ddp (fsdp and deepspeed stay) and the command line's launch
    settings, validated."""
    recipe = Recipe.load(args.recipe)
    given = {"nnodes": args.nnodes, "nproc_per_node": args.nproc_per_node,
             "node_rank": args.node_rank, "rdzv_endpoint": args.rdzv_endpoint}  # fmt: skip
    strategy = recipe.train.strategy if recipe.train.strategy in ("fsdp", "deepspeed") else "ddp"
    train = dataclasses.replace(recipe.train, strategy=strategy,
                                **{k: v for k, v in given.items() if v is not None})  # fmt: skip
    if args.print_only and train.nnodes > 1 and not train.rdzv_endpoint:
        # printed for a cluster: the Slurm script names the first node itself
        recipe.replace(train=dataclasses.replace(train, rdzv_endpoint="head:29500")).validate()
        return recipe.replace(train=train)
    return recipe.replace(train=train).validate()


def cmd_launch(args: argparse.Namespace) -> int:
    recipe = launch_recipe(args)
    train = recipe.train
    launch = Launch.of(train, job_id=recipe.name)
    script = slurm_path(args.recipe)
    gpus = resolved_device_type(train.device) == "cuda" or train.device == "auto"
    # the script runs the job with the recipe's own settings but these nodes and processes
    atomic_write_text(script, slurm_script(launch, job_args(args.recipe.resolve(), None,
                                                            args.workspace, events_json=False),
                                           recipe.name, gpus))  # fmt: skip
    line = shell_line(torchrun_argv(launch, job_args(args.recipe, None, args.workspace, False)))
    print(line)
    if SLURM_HEAD in line:  # several nodes, no endpoint given: the Slurm script sets it
        print("# on each node, with head_node=<the first node's host name>; or --rdzv-endpoint")
    print(f"wrote {script} (sbatch {script.name})")
    if train.strategy == "deepspeed":  # what every rank hands deepspeed.initialize
        from engine.train.deepspeed_config import config_text

        print(f"# DeepSpeed config (written to the run folder):\n{config_text(train)}")
    if args.print_only:
        return 0
    from engine.cli.commands import _listeners
    from engine.cli.relay import relay

    args.events_json, args.quiet, args.name = False, False, None
    argv = local_argv(launch, job_args(args.recipe, None, args.workspace))
    return relay(argv, args, _listeners(args), child_env(launch))
