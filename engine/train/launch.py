"""The torchrun command a multi-process recipe runs under, and its Slurm batch script.

The distributed engine is torchrun (torch.distributed.run), not something of our own: this
module only writes its command line. `workbench-cli run` starts it when a ddp recipe asks for
more than one process (engine.cli.relay); `workbench-cli launch` prints it, runs it, and writes
a Slurm script that starts one torchrun per node with the first node as rendezvous.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PORT = 29500
SLURM_HEAD = "$head_node"  # the Slurm script's shell variable holding the first node's name


def launch_problems(cfg: Any) -> list[tuple[str, str]]:
    """What keeps a ddp training setup (engine.train.train_config.TrainConfig) from launching."""
    from engine.train.device_checks import resolved_device_type
    from engine.train.strategy import under_torchrun

    if under_torchrun():  # launched already: torchrun's environment says where this rank is
        return []
    problems = []
    if cfg.node_rank >= cfg.nnodes:
        problems.append(("node_rank", f"node_rank {cfg.node_rank} is not below nnodes "
                         f"{cfg.nnodes}: give 0 .. {cfg.nnodes - 1}"))  # fmt: skip
    if cfg.rdzv_endpoint and endpoint_problem(cfg.rdzv_endpoint):
        problems.append(("rdzv_endpoint", endpoint_problem(cfg.rdzv_endpoint)))
    elif cfg.nnodes > 1 and not cfg.rdzv_endpoint:
        problems.append(("rdzv_endpoint", f"{cfg.nnodes} nodes need a rendezvous endpoint "
                         "host:port that every node reaches (the first node's, e.g. "
                         "node01:29500)"))  # fmt: skip
    if resolved_device_type(cfg.device) == "cuda":
        import torch

        visible = torch.cuda.device_count()
        if visible and cfg.nproc_per_node > visible:
            problems.append(("nproc_per_node", f"{cfg.nproc_per_node} processes but {visible} "
                             f"GPU(s) visible; nccl needs one GPU per process: give at most "
                             f"{visible}, or train.device cpu (gloo)"))  # fmt: skip
    return problems


def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` is not host:port, or None."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"{endpoint!r} is not host:port (e.g. node01:29500)"
    return None


@dataclass(frozen=True)
class Launch:
    """Where and how many: processes per node, nodes, this node's rank, the rendezvous."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""
    job_id: str = "workbench"

    @classmethod
    def of(cls, cfg: Any, **overrides: Any) -> Launch:
        """The launch a TrainConfig asks for (overrides: the `launch` command's options)."""
        values = {"nproc_per_node": cfg.nproc_per_node, "nnodes": cfg.nnodes,
                  "node_rank": cfg.node_rank, "rdzv_endpoint": cfg.rdzv_endpoint}  # fmt: skip
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def torchrun_options(self) -> list[str]:
        """torchrun's options: --standalone on one node, a c10d rendezvous across nodes."""
        opts = ["--nproc-per-node", str(self.nproc_per_node)]
        if self.nnodes == 1 and not self.rdzv_endpoint:
            return opts + ["--standalone"]  # a free local port, no endpoint to agree on
        endpoint = self.rdzv_endpoint or f"{SLURM_HEAD}:{DEFAULT_PORT}"
        return opts + ["--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank),
                       "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
                       "--rdzv-id", self.job_id]  # fmt: skip


def job_args(recipe: Path, name: str | None = None, workspace: Path | None = None,
             events_json: bool = True) -> list[str]:  # fmt: skip
    """`run RECIPE ...`: what every rank runs (rank 0 alone writes and speaks)."""
    args = ["run", str(recipe)]
    if name:
        args += ["--name", name]
    if workspace is not None:
        args += ["--workspace", str(workspace)]
    return args + (["--events-json"] if events_json else ["--quiet"])


def torchrun_argv(launch: Launch, job: Sequence[str], python: str | None = None) -> list[str]:
    """The command to start: `torchrun OPTIONS -m engine.cli JOB...`.

    With `python`, torchrun is started as `python -m torch.distributed.run` (the same thing,
    in the environment of that interpreter: what this process runs locally).
    """
    head = [python, "-m", "torch.distributed.run"] if python else ["torchrun"]
    return [*head, *launch.torchrun_options(), "-m", "engine.cli", *job]


def local_argv(launch: Launch, job: Sequence[str]) -> list[str]:
    """The torchrun command for this machine, in this interpreter's environment."""
    return torchrun_argv(launch, job, python=sys.executable)


SLURM_VARIABLES = (f"{SLURM_HEAD}:{DEFAULT_PORT}", "$SLURM_JOB_ID")


def shell_line(argv: Sequence[str]) -> str:
    """argv quoted for a shell; the Slurm script's own variables stay expandable."""
    return " ".join(f'"{a}"' if a in SLURM_VARIABLES else shlex.quote(a) for a in argv)


def slurm_script(launch: Launch, job: Sequence[str], name: str, gpus: bool) -> str:
    """A Slurm batch script: one task per node, each running torchrun with the first node as
    the rendezvous (c10d on port 29500; Slurm's job id as the rendezvous id)."""
    # no --node-rank: every node runs the same line, c10d numbers the nodes as they join
    opts = ["--nproc-per-node", str(launch.nproc_per_node), "--nnodes", str(launch.nnodes),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", SLURM_VARIABLES[0],
            "--rdzv-id", SLURM_VARIABLES[1]]  # fmt: skip
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={launch.nnodes}",
        "#SBATCH --ntasks-per-node=1",
        *([f"#SBATCH --gpus-per-node={launch.nproc_per_node}"] if gpus else []),
        "set -euo pipefail",
        "# the first node of the allocation is the rendezvous every node's torchrun joins",
        'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        'export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"',
        "srun " + shell_line(["torchrun", *opts, "-m", "engine.cli", *job]),
    ]
    return "\n".join(lines) + "\n"


def slurm_path(recipe: Path) -> Path:
    """Where the Slurm script goes: next to the recipe, RECIPE-stem.slurm."""
    return recipe.with_name(f"{recipe.stem}.slurm")


def child_env(launch: Launch) -> dict[str, str]:
    """The environment for a local torchrun: threads split between the processes (torchrun
    would otherwise set 1 itself and print a warning about it)."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // launch.nproc_per_node))
    env.setdefault("PYTHONUNBUFFERED", "1")  # rank 0's events reach the relay as they happen
    return env
