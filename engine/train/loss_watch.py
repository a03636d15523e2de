"""The train loss while fine-tuning: windowed reports, the divergence watch, the card's warnings.

A loss that becomes NaN/inf stops the run (TrainingDiverged); one that climbs far above its
first value is said once, live, and ends up on the card as 'diverged' or 'unstable'.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.context import JobContext
from engine.events import Metric
from engine.train.objective import PART_PREFIX, Parts
from engine.train.train_config import TrainConfig


@dataclass
class TrainStats:
    """What fine_tune did: steps, samples, time, the loss's course, val history, warnings."""

    steps: int = 0
    samples: int = 0
    seconds: float = 0.0
    final_train_loss: float | None = None
    first_train_loss: float | None = None
    peak: tuple[int, float] | None = None  # (step, loss) of a loss far above its start
    history: list[dict[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped_steps: int = 0  # fp16 steps the gradient scaler skipped (inf/nan gradients)
    setup: dict[str, Any] = field(default_factory=dict)  # the training setup, for the card


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite: nothing after that step means anything."""


DIVERGED_FACTOR = 5.0  # a train loss this many times its first value is called diverging


def _far_above(loss: float, start: float) -> bool:
    return loss > DIVERGED_FACTOR * start and loss > start + 1.0


def watch_loss(stats: TrainStats, loss: float, step: int, cfg: TrainConfig, ctx: JobContext) -> None:
    """Fail on a non-finite loss; say so (once, live) when the loss climbs far above its start."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"training loss became {loss} by step {step}; lower train.lr (now {cfg.lr:g}), "
            "check the data, or start from a model whose weights are finite"
        )
    if stats.first_train_loss is None:
        stats.first_train_loss = loss
        return
    if _far_above(loss, stats.first_train_loss) and (stats.peak is None or loss > stats.peak[1]):
        if stats.peak is None:
            ctx.log(f"loss {loss:.4g} at step {step} is {loss / stats.first_train_loss:.1f}x its "
                    f"start ({stats.first_train_loss:.4g}); training may be diverging", "warning")
        stats.peak = (step, loss)


def loss_warnings(stats: TrainStats, cfg: TrainConfig) -> list[str]:
    """The card's verdict on the loss curve: diverged (still far up) or unstable (it spiked)."""
    start, final = stats.first_train_loss, stats.final_train_loss
    if stats.peak is None or start is None or final is None:
        return []
    step, peak = stats.peak
    if _far_above(final, start):
        return [f"training diverged: the loss ended at {final:.4g}, {final / start:.1f}x its start "
                f"({start:.4g}); lower train.lr (now {cfg.lr:g})"]
    return [f"training was unstable: the loss spiked to {peak:.4g} at step {step} "
            f"({peak / start:.1f}x its start {start:.4g}) before recovering; consider a lower "
            f"train.lr (now {cfg.lr:g}) or warmup_steps"]


@dataclass
class LossWindow:
    """Train loss, its parts and samples since the last report; all stay on the device until then."""

    loss_sum: torch.Tensor
    t0: float
    n: int = 0
    samples: int = 0
    tokens: torch.Tensor | int = 0  # real (unpadded) tokens, summed on the device
    # the objective's named components: name -> (sum, steps that reported it)
    parts: dict[str, tuple[torch.Tensor | float, int]] = field(default_factory=dict)

    def add(
        self, loss: torch.Tensor, batch_size: int, parts: Parts | None = None,
        tokens: torch.Tensor | int = 0,
    ) -> None:  # fmt: skip
        """One micro-batch's loss, size, loss components and count of real tokens."""
        self.loss_sum += loss.detach().float()  # no host sync per step
        self.n += 1
        self.samples += batch_size
        self.tokens = self.tokens + tokens
        for name, value in (parts or {}).items():
            value = value.detach() if isinstance(value, torch.Tensor) else value
            total, count = self.parts.get(name, (0.0, 0))
            self.parts[name] = (total + value, count + 1)

    def report(
        self, step: int, steps: int, lr: float, stats: TrainStats, cfg: TrainConfig, ctx: JobContext
    ) -> None:
        """Emit loss, lr and throughput of the window, check the loss, start a new window."""
        now = time.perf_counter()
        train_loss = float(self.loss_sum) / self.n
        stats.final_train_loss = train_loss
        ctx.emit(Metric("train/loss", step, train_loss))
        for name, (total, count) in self.parts.items():
            ctx.emit(Metric(PART_PREFIX + name, step, float(total) / count))
        watch_loss(stats, train_loss, step, cfg, ctx)
        ctx.emit(Metric("lr", step, lr))
        seconds = max(now - self.t0, 1e-9)
        ctx.emit(Metric("throughput/samples_per_s", step, self.samples / seconds))
        if isinstance(self.tokens, torch.Tensor):
            ctx.emit(Metric("throughput/tokens_per_s", step, float(self.tokens) / seconds))
        ctx.progress(step / steps, f"step {step}/{steps}  loss {train_loss:.4f}")
        self.loss_sum.zero_()
        self.parts.clear()
        self.n = self.samples = self.tokens = 0
        self.t0 = now
