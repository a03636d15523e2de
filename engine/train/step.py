"""One optimizer step of fine-tuning: its micro-batches (gradient accumulation), precision, clipping.

The step counter of the loop counts optimizer steps. An epoch of `n` micro-batches is
ceil(n / grad_accum_steps) steps; the last one takes what is left of the epoch. A resumed
run skips whole steps' micro-batches of the same seeded loader, so it sees the same data.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from engine.train.forward import Batch, to_device
from engine.train.loss_watch import LossWindow
from engine.train.objective import TrainObjective
from engine.train.precision import Precision, StepInfo
from engine.train.strategy import SingleDevice, world_size
from engine.train.train_config import TrainConfig


def steps_per_epoch(n_train: int, cfg: TrainConfig) -> int:
    """Optimizer steps in one pass over n_train samples (batch_size is per process: under DDP
    each micro-batch of the world takes batch_size × world_size samples)."""
    world = world_size()
    per_batch = cfg.batch_size * world
    full, rest = divmod(n_train, per_batch)
    # a last global batch smaller than the world is dropped (engine.train.strategy.RankBatches)
    micro = max(1, full + (1 if rest and (world == 1 or rest >= world) else 0))
    return math.ceil(micro / cfg.grad_accum_steps)


def step_groups(batches: Iterable[Batch], accum: int, skip: int = 0) -> Iterator[list[Batch]]:
    """The loader's micro-batches in groups of `accum` (the last may be shorter), after
    skipping the first `skip` groups (steps a resumed run has done)."""
    group: list[Batch] = []
    for i, batch in enumerate(batches):
        if i < skip * accum:
            continue
        group.append(batch)
        if len(group) == accum:
            yield group
            group = []
    if group:
        yield group


@dataclass
class Stepper:
    """Runs optimizer steps: forward under autocast, scaled backward per micro-batch, step."""

    module: nn.Module
    objective: TrainObjective
    optimizer: Any
    scheduler: Any
    precision: Precision
    device: torch.device
    clip: float | None = None
    strategy: SingleDevice = field(default_factory=SingleDevice)
    # parameters outside the wrapped module (an objective's own): averaged across ranks by hand
    owned: Sequence[torch.Tensor] = ()

    def __post_init__(self) -> None:
        # what the optimizer updates (the model's and the objective's own parameters): the
        # set whose gradient norm is clipped and reported
        self.params: Sequence[torch.Tensor] = [
            p for group in self.optimizer.param_groups for p in group["params"]
        ]
        # DeepSpeed's engine takes over the module, backward and step (other strategies have
        # no attach: the stepper runs them itself)
        attach = getattr(self.strategy, "attach", None)
        if attach is not None:
            attach(self)

    def step(self, group: list[Batch], window: LossWindow, want_norm: bool = False) -> StepInfo:
        """Accumulate the gradients of `group`'s micro-batches, then one optimizer step.

        Each micro-batch's loss is divided by the group's size, so the gradient is the mean
        over the group: two micro-batches of 8 step like one batch of 16.
        """
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(group):
            batch = to_device(batch, self.device)
            # DDP: only the last micro-batch's backward all-reduces (the sum of the group's)
            last = i == len(group) - 1
            with contextlib.nullcontext() if last else self.strategy.no_sync(self.module):
                with self.precision.autocast():
                    loss, parts = self.objective.loss(self.module, batch)
                # one micro-batch: the loss as it is (dividing by 1 is exact, but say so plainly)
                self.precision.backward(loss / len(group) if len(group) > 1 else loss)
            window.add(loss, batch["input_ids"].size(0), parts, batch["attention_mask"].sum())
        self.strategy.average_grads(self.owned)
        info = self.precision.step(self.optimizer, self.params, self.clip, want_norm)
        self.scheduler.step()
        return info
