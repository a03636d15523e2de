"""How training spreads over processes: one device, or DDP under torchrun.

The loop never tests the strategy itself: it wraps the module (`wrap`), gets its loader's
batches from `batch_sampler`, skips the gradient all-reduce on non-final micro-batches
(`no_sync`), averages what DDP does not see (`average_grads`: an objective's own parameters),
and asks every step whether any rank was cancelled or paused (`agree`), so that no rank
stops alone and leaves the others waiting in a collective.

Batch sizes: `train.batch_size` is per process (per micro-batch). The global batch of one
optimizer step is batch_size × world_size × grad_accum_steps. Each step's global batch is the
same samples, in the same order, as a single process with batch_size × world_size would take
(the seeded order is cut into global batches, rank r takes every world_size-th sample of each),
so 2 processes × 4 train like 1 process × 8.

The process group lives as long as the process (torch.distributed is process-global);
`init_from_env` starts it from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, Dataset, RandomSampler, Sampler, SequentialSampler

from engine.context import JobCancelled, JobContext
from engine.train.loss_watch import LossWindow
from engine.train.rank_stats import announce
from engine.train.train_config import MULTI as MULTI_PROCESS  # noqa: F401 (re-exported)

STRATEGIES = ("single", "ddp", "fsdp", "dataparallel", "model_parallel", "deepspeed")


def under_torchrun() -> bool:
    """True in a process torchrun started (it sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def world_size() -> int:
    """Processes training together (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes to the workspace and emits events."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class RankBatches(Sampler[list[int]]):
    """This rank's part of each global batch: every world-th sample, starting at its rank.

    A last global batch smaller than the world is dropped: a rank with no sample would
    leave the others waiting in the gradient all-reduce.
    """

    def __init__(self, global_batches: BatchSampler, rank: int, world: int):
        self.global_batches, self.rank, self.world = global_batches, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches:
            if len(batch) >= self.world:
                yield batch[self.rank :: self.world]

    def __len__(self) -> int:
        n = len(self.global_batches.sampler)  # type: ignore[arg-type]
        full, rest = divmod(n, self.global_batches.batch_size)
        return full + (1 if rest >= self.world else 0)


class SingleDevice:
    """Today's behaviour: one process, the module as it is, nothing to agree on."""

    name = "single"
    rank = 0
    local_rank = 0
    world_size = 1
    is_main = True

    def wrap(self, module: nn.Module) -> nn.Module:
        return module

    def unwrap(self, module: nn.Module) -> None:
        """After training, before save/export: `module` plain again (FSDP's shards gathered);
        wrappers (DDP, DataParallel) train `module` itself and are simply dropped."""
        return None

    def batch_sampler(
        self, ds: Dataset, batch_size: int, shuffle: bool, gen: torch.Generator | None
    ) -> Sampler[list[int]] | None:
        """None: the DataLoader's own shuffled/sequential batching (exactly as before)."""
        return None

    def no_sync(self, wrapped: nn.Module) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def average_grads(self, params: Sequence[torch.Tensor]) -> None:
        return None

    def agree(self, flag: bool) -> bool:
        return flag

    def agree_all(self, flags: Sequence[bool]) -> list[bool]:
        return list(flags)

    def all_sum(self, value: torch.Tensor) -> torch.Tensor:
        return value

    def barrier(self) -> None:
        return None

    def cleanup(self) -> None:
        return None

    def record(self) -> dict[str, Any]:
        """The card's record of the strategy."""
        return {"strategy": self.name, "world_size": self.world_size}


class DDP(SingleDevice):
    """DistributedDataParallel over the process group torchrun set up (gloo on CPU, nccl on GPU)."""

    name = "ddp"

    def __init__(self, device: torch.device):
        if not dist.is_initialized():
            raise RuntimeError("DDP needs a process group: run under torchrun (init_from_env)")
        self.device = device
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.rank))
        self.is_main = self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        """DDP(module): broadcasts rank 0's weights, all-reduces (averages) gradients in backward."""
        ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
            if self.device.type == "cuda" else None  # fmt: skip
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def batch_sampler(
        self, ds: Dataset, batch_size: int, shuffle: bool, gen: torch.Generator | None
    ) -> Sampler[list[int]] | None:
        """The single-process order (same sampler, same generator) cut into global batches."""
        order = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
        global_batches = BatchSampler(order, batch_size * self.world_size, drop_last=False)
        return RankBatches(global_batches, self.rank, self.world_size)

    def no_sync(self, wrapped: nn.Module) -> contextlib.AbstractContextManager[Any]:
        """Skip the all-reduce (a non-final micro-batch): the last one reduces the sum."""
        inner = getattr(wrapped, "_orig_mod", wrapped)  # torch.compile keeps the DDP module here
        sync = getattr(inner, "no_sync", None)
        return sync() if callable(sync) else contextlib.nullcontext()

    def average_grads(self, params: Sequence[torch.Tensor]) -> None:
        """Average gradients DDP does not own (an objective's projections) across ranks."""
        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= self.world_size

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any (cancel): one all-reduce, no rank left waiting."""
        return self.agree_all([flag])[0]

    def agree_all(self, flags: Sequence[bool]) -> list[bool]:
        t = torch.tensor([int(f) for f in flags], dtype=torch.int32, device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def all_sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum over ranks (a copy; for reports: loss, tokens)."""
        t = value.detach().clone().to(self._comm_device(), torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self) -> None:
        dist.barrier()

    def cleanup(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def _comm_device(self) -> torch.device:
        # nccl moves only CUDA tensors; gloo only CPU ones
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def init_from_env(device_type: str) -> None:
    """Start the process group from torchrun's environment (once per process).

    nccl for CUDA (each process on the GPU of its LOCAL_RANK), gloo on CPU.
    """
    if dist.is_initialized():
        return
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")


def strategy_for(
    name: str, device: torch.device, cfg: Any = None, log: Any = None
) -> SingleDevice:
    """The strategy a run trains with: DDP or FSDP when a process group is up and asked for,
    DataParallel on CUDA when asked for, model_parallel over cfg's devices (a TrainConfig;
    `log` hears its placement), else single.

    The process group is started by the CLI (under torchrun) before the job; a ddp or fsdp
    recipe run in one plain process trains on its own, as a world of one.
    """
    from engine.train.strategy_fsdp import FSDP, DataParallel

    grouped = dist.is_available() and dist.is_initialized()
    if name == "ddp" and grouped:
        return DDP(device)
    if name == "fsdp" and grouped:
        return FSDP(device)
    if name == "dataparallel" and device.type == "cuda":
        return DataParallel()
    if name == "model_parallel" and cfg is not None:
        from engine.train.strategy_pipeline import ModelParallel

        return ModelParallel(device, cfg.devices, cfg.split_points, cfg.hf_device_map, log)
    if name == "deepspeed" and cfg is not None:  # ZeRO (a world of one without torchrun)
        from engine.train.strategy_deepspeed import DeepSpeed

        return DeepSpeed(device, cfg)
    return SingleDevice()


def agreed_checkpoint(ctx: JobContext, strategy: SingleDevice) -> None:
    """ctx.checkpoint() agreed by every rank: all pause while any is paused, all stop when any
    is cancelled (one small all-reduce a step), so no rank waits alone in a collective."""
    if strategy.world_size == 1:
        ctx.checkpoint()
        return
    control, waited = ctx.control, False
    while True:
        cancel, pause = strategy.agree_all([control.cancelled.is_set(), control.paused])
        if cancel:
            raise JobCancelled()
        if not pause:
            break
        if not waited:
            ctx.log("paused")
            announce(ctx, strategy, "paused")  # the Run page's rank rows
            waited = True
        # keep asking: the all-reduce every 0.2 s keeps no rank in a collective long
        control.cancelled.wait(0.2)
    if waited:
        ctx.log("resumed")
        announce(ctx, strategy, "running")


def world_window(window: LossWindow, strategy: SingleDevice) -> None:
    """The report window over every rank: mean loss, all samples and tokens (rank 0 reports)."""
    if strategy.world_size == 1:
        return
    window.loss_sum = strategy.all_sum(window.loss_sum) / strategy.world_size
    window.samples *= strategy.world_size
    if isinstance(window.tokens, torch.Tensor):
        window.tokens = strategy.all_sum(window.tokens)
    for name, (total, count) in list(window.parts.items()):
        if isinstance(total, torch.Tensor):
            window.parts[name] = (strategy.all_sum(total) / strategy.world_size, count)
