"""`workbench-cli run` of a multi-process recipe: torchrun starts the ranks, this relays rank 0.

Not under torchrun (no RANK in the environment) and asked for more than one process, `run`
starts the torchrun command (engine.train.launch) as a child in its own process group and
turns rank 0's JSON event lines into its own output, as if the job ran here: the progress
printer, or the same JSON lines with --events-json. Ctrl+C is forwarded to the group (each
rank cancels, agreed across ranks). `--control-file` passes on to rank 0, which watches it
(engine.cli.control_file) to pause and resume the job; every rank then pauses with it. Under
torchrun (`run_rank`), each rank runs the job: rank 0 with the usual listeners, the others
silent but for their error, which fails the run; the relay then says which rank failed (a
RankState event with state "failed") before the run's Failed event.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.cli.control_file import watching
from engine.cli.drive import outcome, run_in_thread
from engine.cli.relay_stderr import StderrFilter
from engine.events import Cancelled, Event, Failed, Finished, RankState, event_from_json
from engine.job import Job, JobResult
from engine.recipe import Recipe
from engine.store import Workspace, WorkspaceError, default_workspace
from engine.train.launch import Launch, child_env, job_args, local_argv
from engine.train.strategy import under_torchrun
from engine.train.train_config import TrainConfig


def wants_torchrun(recipe: Recipe) -> bool:
    """A ddp/fsdp recipe asking for more than one process, run from a plain process."""
    return recipe.train.processes > 1 and not under_torchrun()


def run_rank(args: argparse.Namespace, recipe: Recipe, listeners: list[Any]) -> int:
    """One rank's job under torchrun: rank 0 as a plain run, the others silent."""
    import torch.distributed as dist

    from engine.train.device_checks import resolved_device_type
    from engine.train.strategy import init_from_env

    recipe = recipe.replace(train=launched_setup(recipe.train))
    init_from_env(resolved_device_type(recipe.train.device))
    rank = dist.get_rank()
    try:
        root = args.workspace or default_workspace()
        ws = Workspace(root) if rank == 0 else None  # rank 0 creates it, then the others open it
        dist.barrier()
        if rank == 0:  # under `run`'s relay (events as JSON) the relay prints the outcome
            job = Job(recipe, listeners, workspace=ws)
            with watching(getattr(args, "control_file", None), job):  # pause/resume from outside
                result = run_in_thread(job)
            return outcome(result, args) if not args.events_json else _code(result)
        result = run_in_thread(Job(recipe, [], workspace=Workspace(root)))
        if result.status == "failed":  # the parent relay puts this line on rank 0's run
            print(f"error: rank {rank}: {result.error}", file=sys.stderr, flush=True)
            return 1
        return 130 if result.status == "cancelled" else 0
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _code(result: JobResult) -> int:
    """drive's exit codes, without its printing."""
    if result.status == "cancelled":
        return 130
    return 0 if result.ok else (2 if result.run_id is None else 1)


def launched_setup(train: TrainConfig) -> TrainConfig:
    """The training setup as torchrun launched it (recorded with the run): several processes
    mean ddp (or the file's fsdp / deepspeed); processes, nodes and node rank from its env."""
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world == 1:
        return train
    local = int(env.get("LOCAL_WORLD_SIZE", world))
    strategy = train.strategy if train.strategy in ("fsdp", "deepspeed") else "ddp"
    return dataclasses.replace(train, strategy=strategy, nproc_per_node=local,
                               nnodes=max(1, world // local),
                               node_rank=int(env.get("GROUP_RANK", "0")))  # fmt: skip


def relay_run(args: argparse.Namespace, recipe: Recipe, listeners: list[Any]) -> int:
    """Start torchrun for this recipe on this machine and relay rank 0's events."""
    launch = Launch.of(recipe.train)
    job = job_args(args.recipe, args.name, args.workspace)
    control = getattr(args, "control_file", None)
    if control is not None:  # rank 0 watches it (absolute: torchrun may start elsewhere)
        job += ["--control-file", str(Path(control).resolve())]
    argv = local_argv(launch, job)
    return relay(argv, args, listeners, child_env(launch))


def relay(argv: list[str], args: argparse.Namespace, listeners: list[Callable[[Event], None]],
          env: dict[str, str]) -> int:  # fmt: skip
    """Run `argv` (torchrun), feed its JSON event lines to `listeners`; the exit code."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True, bufsize=1)  # fmt: skip
    errors = StderrFilter(sys.stderr.write)
    errs = threading.Thread(target=_pass_stderr, args=(proc, errors), daemon=True)
    errs.start()
    end: list[Event] = []
    forwarded = 0
    while True:
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                _relay_line(line, listeners, end)
            break
        except KeyboardInterrupt:  # Ctrl+C: every rank cancels (a second one: terminate)
            forwarded += 1
            sig = signal.SIGINT if forwarded == 1 else signal.SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            print("\ncancelling every rank at the next step...", file=sys.stderr)
    rc = proc.wait()
    errs.join(timeout=5)
    return _result(rc, end, errors, args, listeners)


def _relay_line(line: str, listeners: list[Callable[[Event], None]], end: list[Event]) -> None:
    try:
        event = event_from_json(line)
    except ValueError:  # something a library printed on rank 0's stdout
        print(line, end="", file=sys.stderr)
        return
    if isinstance(event, (Finished, Failed, Cancelled)):
        end.append(event)
        if isinstance(event, Failed):  # held back: the rank that failed first is told first
            return
    for listener in listeners:
        listener(event)


def _pass_stderr(proc: subprocess.Popen, errors: StderrFilter) -> None:
    """Pass the ranks' stderr on as it comes, torchrun's own reports filtered out."""
    for line in proc.stderr:  # type: ignore[union-attr]
        errors.feed(line)


# what a rank says when another one died under it: a consequence, not the cause
KNOCK_ON = ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
            "gloo/transport", "NCCL communicator was aborted")  # fmt: skip


def _first_cause(last: Event | None, errors: StderrFilter) -> str | None:
    """Why the run failed when a rank other than 0 did first; None when rank 0's own error is."""
    own = [f"rank {r}: {m}" for r, m in errors.rank_errors if not any(k in m for k in KNOCK_ON)]
    if own:
        return own[0]
    if isinstance(last, Failed) and not any(k in last.error for k in KNOCK_ON):
        return None
    crash = [c for c in errors.crashes if c[0] != "0"]
    if crash:
        errors.crashes = crash
        return errors.crash_message()
    return None


def failure_events(run_id: str, cause: str, world: int = 0) -> list[Event]:
    """The failed rank's row (its number read from `cause`, 0 when it names none) and Failed."""
    m = re.search(r"\brank (\d+)\b", cause)
    rank = int(m.group(1)) if m else 0
    error = re.sub(r"^rank \d+: ", "", cause)
    return [RankState(rank, world, state="failed", error=error), Failed(run_id, cause)]


def _result(rc: int, end: list[Event], errors: StderrFilter, args: argparse.Namespace,
            listeners: list[Callable[[Event], None]]) -> int:  # fmt: skip
    """The exit code and final lines of a relayed run; a crashed rank's error is the run's."""
    last = end[-1] if end else None
    run_id = getattr(last, "run_id", "") or None
    cause = _first_cause(last, errors)
    told: list[Event] = []
    if cause and not isinstance(last, (Finished, Cancelled)):
        told = failure_events(run_id or "", cause)
    elif isinstance(last, Failed):  # rank 0's own error
        told = [RankState(0, 0, state="failed", error=last.error), last]
    for event in told:
        for listener in listeners:
            listener(event)
    if cause and not isinstance(last, (Finished, Cancelled)):
        # rank 0 saw only its collective break: the rank that failed first is the cause
        if run_id:
            ws = Workspace(args.workspace or default_workspace())
            with contextlib.suppress(WorkspaceError, OSError, KeyError):
                ws.mark(run_id, "failed", cause)
        print(f"error: {cause}", file=sys.stderr)
        return 1
    if isinstance(last, Finished):
        ws = Workspace(args.workspace or default_workspace())
        v = ws.get(last.run_id)
        return outcome(JobResult("finished", v.id, v.card, parent_id=v.parent), args)
    if isinstance(last, Cancelled):
        return outcome(JobResult("cancelled", run_id), args)
    if isinstance(last, Failed):
        return outcome(JobResult("failed", run_id, error=last.error), args)
    print(f"error: the training processes ended without a result (torchrun exit {rc}); "
          "see the lines above", file=sys.stderr)
    return 1 if rc == 0 else rc
