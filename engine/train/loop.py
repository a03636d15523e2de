"""Fine-tuning loop and evaluation for the workbench's text tasks.

Kept deliberately plain (nanoGPT-style): per-step work is forward, loss, backward,
step. Anything that needs a host sync (loss.item(), sparsity counts) happens only
every `log_every` / `eval_every` steps so the loop runs at hand-written speed
(`bench/train_loop.py` measures that).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from engine.context import JobContext
from engine.events import LayerStats, Metric
from engine.methods.base import TrainHook
from engine.methods.prune.masks import keep_masks_live
from engine.train.forward import compute_loss, forward, to_device
from engine.train.loss_watch import LossWindow, TrainStats, loss_warnings
from engine.train.objective import TaskLoss, TrainObjective
from engine.train.precision import Precision
from engine.train.rank_stats import rank_report
from engine.train.setup_metrics import emit_setup_metrics
from engine.train.state import TrainState
from engine.train.step import Stepper, step_groups, steps_per_epoch
from engine.train.strategy import SingleDevice, agreed_checkpoint, strategy_for, world_window
from engine.train.train_config import TrainConfig
from engine.train.train_setup import setup_record, training_module


def pick_device(name: str) -> torch.device:
    """'auto' means CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is cuda but no CUDA device is available; use auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def evaluate(
    module: nn.Module,
    task: str,
    loader: DataLoader,
    device: torch.device,
    max_batches: int | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, float]:
    """Mean loss plus accuracy (classification) or perplexity (causal LM).

    `progress(fraction, message)` hears after each batch (a long evaluation shows progress).
    """
    was_training = module.training
    module.eval()
    total_loss = 0.0
    n_items = correct = 0
    n = len(loader) if max_batches is None else min(len(loader), max_batches)
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        if progress is not None and n:
            progress(i / n, f"evaluating batch {i + 1}/{n}")
        batch = to_device(batch, device)
        logits = forward(module, batch)
        if task == "causal-lm":
            tokens = int(batch["attention_mask"][:, 1:].sum())
            total_loss += float(compute_loss(task, logits, batch)) * tokens
            n_items += tokens
        else:
            total_loss += float(F.cross_entropy(logits, batch["labels"], reduction="sum"))
            correct += int((logits.argmax(-1) == batch["labels"]).sum())
            n_items += batch["labels"].numel()
    module.train(was_training)
    if n_items == 0:
        return {}
    loss = total_loss / n_items
    if task == "causal-lm":
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
    return {"loss": loss, "accuracy": correct / n_items}


def make_loader(
    ds: Dataset, batch_size: int, shuffle: bool, seed: int, strategy: SingleDevice | None = None
) -> DataLoader:
    """A DataLoader over ds; shuffled with its own generator seeded by `seed`.

    Under DDP (`strategy`) each rank gets its share of every global batch of the same order.
    """
    gen = torch.Generator().manual_seed(seed)
    shard = strategy.batch_sampler(ds, batch_size, shuffle, gen) if strategy else None
    if shard is not None:
        return DataLoader(ds, batch_sampler=shard, generator=gen if shuffle else None)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=shuffle, generator=gen if shuffle else None
    )


def total_steps(n_train: int, cfg: TrainConfig) -> int:
    """Optimizer steps the run will take: epochs over the data, capped by max_steps."""
    steps = steps_per_epoch(n_train, cfg) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def _optimizer(
    module: nn.Module, cfg: TrainConfig, steps: int, owned: Sequence[nn.Parameter] = ()
) -> tuple[Any, Any]:
    """AdamW over the trainable parameters (and the objective's), linear warm-up then decay."""
    params = [p for p in module.parameters() if p.requires_grad] + list(owned)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _linear_schedule(cfg.warmup_steps, steps))


def fine_tune(
    module: nn.Module, task: str, train_ds: Dataset, val_ds: Dataset, cfg: TrainConfig,
    ctx: JobContext, device: torch.device,
    layer_stats: Callable[[], dict[str, float]] | None = None, hooks: Sequence[TrainHook] = (),
    state_path: Path | None = None, resume: bool = False, objective: TrainObjective | None = None,
) -> TrainStats:  # fmt: skip
    """Train in place; emits train/val metrics, lr, throughput, the training setup's metrics
    (gradient norm, fp16 loss scale, peak memory) and per-layer sparsity.

    `objective` is what is minimised (default: the task loss); its named parts are emitted
    as `train/loss/<name>`. `hooks` run after every optimizer step (pruning schedules).
    With `state_path`, a resumable state is written every `cfg.checkpoint_every` steps, and
    `resume=True` continues from the one there: same data order, RNG, masks and schedule.
    """
    objective = objective or TaskLoss(task)
    torch.manual_seed(cfg.seed)
    stats = TrainStats()
    steps = total_steps(len(train_ds), cfg)
    if cfg.epochs == 0 or steps == 0:
        return stats
    precision = Precision(cfg.precision, device)
    strategy = strategy_for(cfg.strategy, device, cfg, ctx.log)
    owner = _objective_owner(objective, module)
    owned = [p for p in owner.parameters() if p.requires_grad] if owner is not None else []
    wrapped = strategy.wrap(module)  # first: FSDP puts sharded parameters in the module
    # after wrap: model_parallel's record says where it placed the blocks
    stats.setup = setup_record(cfg) | strategy.record()
    stats.setup["global_batch"] = stats.setup["effective_batch"] * strategy.world_size
    opt, sched = _optimizer(module, cfg, steps, owned)
    keep_masks_live(module)
    saved = TrainState(module, opt, sched, hooks, owner, precision)
    step = _resumed_step(state_path, saved, ctx) if resume else 0
    module.train()
    if step == 0:
        _emit_layer_stats(layer_stats, ctx, 0)
    with training_module(wrapped, cfg, ctx.log, stats.setup) as trained:
        stepper = Stepper(trained, objective, opt, sched, precision, device, cfg.clip_grad_norm,
                          strategy, owned)  # fmt: skip
        run = _Run(module, task, train_ds, val_ds, cfg, ctx, device, stats, steps, strategy)
        run.loop(stepper, step, hooks, layer_stats, state_path, saved)
    strategy.unwrap(module)  # plain again for save/export (FSDP: full weights gathered)
    stats.warnings += loss_warnings(stats, cfg)
    return stats


def _objective_owner(objective: TrainObjective, module: nn.Module) -> nn.Module | None:
    """The objective when it owns parameters (distillation's projections), prepared for module.

    Such an objective is an nn.Module; its optional `prepare(module)` creates what depends on
    the trained module (and puts it on its device) before the optimizer is built. Its
    trainable parameters train with the model and its state_dict resumes with it.
    """
    prepare = getattr(objective, "prepare", None)
    if callable(prepare):
        prepare(module)
    if isinstance(objective, nn.Module) and any(p.requires_grad for p in objective.parameters()):
        return objective
    return None


def _resumed_step(state_path: Path | None, saved: TrainState, ctx: JobContext) -> int:
    """The step to continue from: state_path's, restored into the model, optimizer and the rest."""
    if state_path is None:
        return 0
    step = saved.load(state_path)
    ctx.log(f"resumed from step {step} ({state_path.name})")
    return step


@dataclass
class _Run:
    """The step loop of one fine-tuning run: epochs of seeded loaders, reports, evals, states."""

    module: nn.Module
    task: str
    train_ds: Dataset
    val_ds: Dataset
    cfg: TrainConfig
    ctx: JobContext
    device: torch.device
    stats: TrainStats
    steps: int
    strategy: SingleDevice

    def loop(
        self, stepper: Stepper, step: int, hooks: Sequence[TrainHook],
        layer_stats: Callable[[], dict[str, float]] | None, state_path: Path | None,
        saved: TrainState,
    ) -> None:  # fmt: skip
        """Optimizer steps from `step` to the end; fills stats (steps, samples, seconds)."""
        cfg, ctx, stats = self.cfg, self.ctx, self.stats
        per_epoch = steps_per_epoch(len(self.train_ds), cfg)
        val_loader = make_loader(self.val_ds, cfg.batch_size, False, cfg.seed)
        t_start = time.perf_counter()
        window = LossWindow(torch.zeros((), device=self.device), t_start)
        while step < self.steps:
            # one loader per epoch, seeded by the epoch: a resumed run sees the same order
            epoch, skip = divmod(step, per_epoch)
            loader = make_loader(self.train_ds, cfg.batch_size, True, cfg.seed + epoch,
                                 self.strategy)  # fmt: skip
            for group in step_groups(loader, cfg.grad_accum_steps, skip):
                agreed_checkpoint(ctx, self.strategy)
                log_now = (step + 1) % cfg.log_every == 0 or step + 1 == self.steps
                info = stepper.step(group, window, want_norm=log_now)
                step += 1
                stats.skipped_steps += info.skipped
                for hook in hooks:
                    hook.on_step(step)
                stats.samples += sum(b["input_ids"].size(0) for b in group) * self.strategy.world_size
                if log_now:  # each rank's own numbers first: world_window sums the window
                    rank_report(ctx, window, step, self.strategy, self.device)
                    world_window(window, self.strategy)
                    window.report(step, self.steps, stepper.scheduler.get_last_lr()[0], stats, cfg, ctx)
                    emit_setup_metrics(ctx, step, info, stepper.precision, self.device,
                                       stats.skipped_steps)  # fmt: skip
                if step % cfg.eval_every == 0 or step == self.steps:
                    _validate(self.module, self.task, val_loader, self.device, cfg, ctx, stats, step,
                              stepper.precision)  # fmt: skip
                    _emit_layer_stats(layer_stats, ctx, step)
                # only rank 0 writes the resumable state (every rank resumes from it)
                if (state_path is not None and cfg.checkpoint_every and self.strategy.is_main
                        and step % cfg.checkpoint_every == 0):  # fmt: skip
                    saved.save(state_path, step)
                if step >= self.steps:
                    break
        stats.steps, stats.seconds = step, time.perf_counter() - t_start


def _validate(
    module: nn.Module, task: str, val_loader: DataLoader, device: torch.device,
    cfg: TrainConfig, ctx: JobContext, stats: TrainStats, step: int, precision: Precision,
) -> None:
    """Evaluate (under the run's autocast), emit the val/* metrics, keep them in the history."""
    with precision.autocast():
        metrics = evaluate(module, task, val_loader, device, cfg.eval_batches)
    for k, v in metrics.items():
        ctx.emit(Metric(f"val/{k}", step, v))
    stats.history.append({"step": step, **metrics})


def _emit_layer_stats(
    layer_stats: Callable[[], dict[str, float]] | None, ctx: JobContext, step: int
) -> None:
    """Emit per-layer sparsity (at eval steps it shows the masks holding between mask updates;
    the pruning methods report overall sparsity themselves when masks change)."""
    if layer_stats is not None:
        values = layer_stats()
        if values:
            ctx.emit(LayerStats(step, values))


def _linear_schedule(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor
