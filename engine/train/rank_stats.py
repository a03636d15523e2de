"""Each rank's own numbers at a train report, for the Run page's row per rank.

At every report step of a multi-process run, each rank measures its part of the window (its
samples and tokens per second, before `world_window` sums them over ranks), its peak memory,
host and device; one `all_gather_object` gives rank 0 every rank's, and rank 0 emits one
RankState per rank. The last gathered states stay on the strategy object, so a pause (or
resume), agreed by every rank in `agreed_checkpoint`, is shown on every row without another
collective.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import time
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from engine.context import JobContext
from engine.events import RankState
from engine.train.setup_metrics import peak_memory_mb

if TYPE_CHECKING:  # strategy.py imports this module
    from engine.train.loss_watch import LossWindow
    from engine.train.strategy import SingleDevice

LAST = "last_rank_states"  # the attribute on the strategy holding the last gathered states


@functools.cache
def host_name() -> str:
    return socket.gethostname()


def device_label(device: torch.device) -> str:
    """'cpu', or 'cuda:N' with the index torchrun's LOCAL_RANK set (torch.device('cuda') has none)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index}"
    return str(device)


def own_state(window: LossWindow, step: int, world: int, rank: int, device: torch.device) -> RankState:
    """This rank's numbers for the window since the last report (its own samples, not the world's)."""
    seconds = max(time.perf_counter() - window.t0, 1e-9)
    tokens = float(window.tokens) if isinstance(window.tokens, torch.Tensor) else float(window.tokens)
    return RankState(rank=rank, world=world, host=host_name(), device=device_label(device),
                     step=step, samples_per_s=window.samples / seconds,
                     tokens_per_s=tokens / seconds, peak_mb=peak_memory_mb(device)[1])  # fmt: skip


def gather_states(mine: RankState, world: int) -> list[RankState]:
    """Every rank's state, in rank order, on every rank (one small all_gather of plain dicts)."""
    if world == 1 or not dist.is_initialized():
        return [mine]
    out: list[dict | None] = [None] * world
    dist.all_gather_object(out, dataclasses.asdict(mine))
    return [RankState(**d) for d in out if d is not None]


def rank_report(ctx: JobContext, window: LossWindow, step: int, strategy: SingleDevice,
                device: torch.device) -> None:  # fmt: skip
    """At a report step (on every rank, before world_window): gather, and rank 0 emits a row each.

    A single process has no rows: nothing is gathered or emitted.
    """
    world = strategy.world_size
    if world == 1:
        return
    states = gather_states(own_state(window, step, world, strategy.rank, device), world)
    setattr(strategy, LAST, states)
    if strategy.is_main:
        for s in states:
            ctx.emit(s)


def announce(ctx: JobContext, strategy: SingleDevice, state: str) -> None:
    """Rank 0 re-emits the last rows with a new state (paused, running), gathering nothing:
    every rank agreed on it already."""
    if strategy.is_main:
        for s in getattr(strategy, LAST, ()):
            ctx.emit(dataclasses.replace(s, state=state))
