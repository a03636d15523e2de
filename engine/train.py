"""Fine-tuning loop and evaluation for the workbench's text tasks.

Kept deliberately plain (nanoGPT-style): per-step work is forward, loss, backward,
step. Anything that needs a host sync (loss.item(), sparsity counts) happens only
every `log_every` / `eval_every` steps so the loop runs at hand-written speed
(`bench/train_loop.py` measures that).
"""

from __future__ import annotations

import math
import os
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from engine.context import JobContext
from engine.events import LayerStats, Metric
from engine.methods.base import TrainHook
from engine.recipe import TrainConfig


def pick_device(name: str) -> torch.device:
    """'auto' means CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is cuda but no CUDA device is available; use auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def compute_loss(task: str, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy: next-token for causal LMs (padding ignored), per-sample for classifiers."""
    labels = batch["labels"]
    if task == "causal-lm":
        shift_logits = logits[:, :-1, :]
        shift_labels = labels[:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, -100)
        return F.cross_entropy(
            shift_logits.reshape(-1, shift_logits.size(-1)),
            shift_labels.reshape(-1),
            ignore_index=-100,
        )
    if task == "classification":
        return F.cross_entropy(logits, labels)
    raise ValueError(f"fine-tuning needs a causal-lm or classification model, got task {task!r}")


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


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
        batch = _to(batch, device)
        logits = module(batch["input_ids"], batch["attention_mask"])
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


@dataclass
class TrainStats:
    steps: int = 0
    samples: int = 0
    seconds: float = 0.0
    final_train_loss: float | None = None
    first_train_loss: float | None = None
    peak: tuple[int, float] | None = None  # (step, loss) of a loss far above its start
    history: list[dict[str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite: nothing after that step means anything."""


DIVERGED_FACTOR = 5.0  # a train loss this many times its first value is called diverging


def _far_above(loss: float, start: float) -> bool:
    return loss > DIVERGED_FACTOR * start and loss > start + 1.0


def _watch_loss(stats: TrainStats, loss: float, step: int, cfg: TrainConfig, ctx: JobContext) -> None:
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


def _loss_warnings(stats: TrainStats, cfg: TrainConfig) -> list[str]:
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


def make_loader(ds: Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=shuffle, generator=gen if shuffle else None
    )


def total_steps(n_train: int, cfg: TrainConfig) -> int:
    """Optimizer steps the run will take: epochs over the data, capped by max_steps."""
    per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    steps = per_epoch * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def _optimizer(module: nn.Module, cfg: TrainConfig, steps: int) -> tuple[Any, Any]:
    """AdamW over the trainable parameters, with linear warm-up then linear decay."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _linear_schedule(cfg.warmup_steps, steps))


@dataclass
class _LossWindow:
    """Train loss and samples since the last report; the loss stays on the device until then."""

    loss_sum: torch.Tensor
    t0: float
    n: int = 0
    samples: int = 0

    def add(self, loss: torch.Tensor, batch_size: int) -> None:
        self.loss_sum += loss.detach()  # no host sync per step
        self.n += 1
        self.samples += batch_size

    def report(
        self, step: int, steps: int, lr: float, stats: TrainStats, cfg: TrainConfig, ctx: JobContext
    ) -> None:
        """Emit loss, lr and throughput of the window, check the loss, start a new window."""
        now = time.perf_counter()
        train_loss = float(self.loss_sum) / self.n
        stats.final_train_loss = train_loss
        ctx.emit(Metric("train/loss", step, train_loss))
        _watch_loss(stats, train_loss, step, cfg, ctx)
        ctx.emit(Metric("lr", step, lr))
        ctx.emit(Metric("throughput/samples_per_s", step, self.samples / max(now - self.t0, 1e-9)))
        ctx.progress(step / steps, f"step {step}/{steps}  loss {train_loss:.4f}")
        self.loss_sum.zero_()
        self.n = self.samples = 0
        self.t0 = now


def fine_tune(
    module: nn.Module,
    task: str,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    ctx: JobContext,
    device: torch.device,
    layer_stats: Callable[[], dict[str, float]] | None = None,
    hooks: Sequence[TrainHook] = (),
    state_path: Path | None = None,
    resume: bool = False,
) -> TrainStats:
    """Train in place; emits train/val metrics, lr, throughput and per-layer sparsity.

    `hooks` run after every optimizer step (pruning schedules). With `state_path`, a
    resumable state is written every `cfg.checkpoint_every` steps, and `resume=True`
    continues from the one there: same data order, same RNG, same masks and schedule.
    """
    torch.manual_seed(cfg.seed)
    stats = TrainStats()
    steps = total_steps(len(train_ds), cfg)
    if cfg.epochs == 0 or steps == 0:
        return stats
    per_epoch = max(1, math.ceil(len(train_ds) / cfg.batch_size))
    val_loader = make_loader(val_ds, cfg.batch_size, False, cfg.seed)
    opt, sched = _optimizer(module, cfg, steps)
    step = 0
    if resume and state_path is not None:
        step = load_train_state(state_path, module, opt, sched, hooks)
        ctx.log(f"resumed from step {step} ({state_path.name})")
    module.train()

    def emit_layers(step: int) -> None:
        # per-layer sparsity at eval steps shows the masks holding between mask updates
        # (the pruning methods report overall sparsity themselves when masks change)
        if layer_stats is not None:
            values = layer_stats()
            if values:
                ctx.emit(LayerStats(step, values))

    if step == 0:
        emit_layers(0)
    t_start = time.perf_counter()
    window = _LossWindow(torch.zeros((), device=device), t_start)
    while step < steps:
        # one loader per epoch, seeded by the epoch: a resumed run sees the same order
        epoch, skip = divmod(step, per_epoch)
        loader = make_loader(train_ds, cfg.batch_size, True, cfg.seed + epoch)
        for i, batch in enumerate(loader):
            if i < skip:
                continue
            ctx.checkpoint()
            batch = _to(batch, device)
            logits = module(batch["input_ids"], batch["attention_mask"])
            loss = compute_loss(task, logits, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            for hook in hooks:
                hook.on_step(step)
            bs = batch["input_ids"].size(0)
            stats.samples += bs
            window.add(loss, bs)
            if step % cfg.log_every == 0 or step == steps:
                window.report(step, steps, sched.get_last_lr()[0], stats, cfg, ctx)
            if step % cfg.eval_every == 0 or step == steps:
                metrics = evaluate(module, task, val_loader, device, cfg.eval_batches)
                for k, v in metrics.items():
                    ctx.emit(Metric(f"val/{k}", step, v))
                stats.history.append({"step": step, **metrics})
                emit_layers(step)
            if state_path is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save_train_state(state_path, step, module, opt, sched, hooks)
            if step >= steps:
                break
    stats.steps = step
    stats.seconds = time.perf_counter() - t_start
    stats.warnings += _loss_warnings(stats, cfg)
    return stats


def save_train_state(
    path: Path, step: int, module: nn.Module, opt: Any, sched: Any, hooks: Sequence[TrainHook]
) -> None:
    """Everything needed to continue exactly: weights and masks, optimizer, schedules, RNG."""
    state = {
        "step": step,
        "model": module.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "hooks": [h.state_dict() for h in hooks],
        "rng": torch.get_rng_state(),
    }
    # the temp name atomic_io uses: a crash mid-write leaves the previous state intact, and
    # the half-written file is cleared with the rest of a crashed run's temp files
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_train_state(
    path: Path, module: nn.Module, opt: Any, sched: Any, hooks: Sequence[TrainHook]
) -> int:
    """Restore what save_train_state wrote; returns the step to continue from."""
    state = read_train_state(path)
    module.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    if len(state["hooks"]) != len(hooks):
        raise ValueError(f"{path.name} has {len(state['hooks'])} schedule(s), the recipe "
                         f"{len(hooks)}: resume with the recipe the run was started with")
    for hook, hs in zip(hooks, state["hooks"], strict=True):
        hook.load_state_dict(hs)
    torch.set_rng_state(state["rng"])
    return int(state["step"])


def read_train_state(path: Path) -> dict[str, Any]:
    """torch.load a training state with weights only; refuse anything else in one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, i.e. running the file's code: no
        raise ValueError(
            f"{path} holds more than tensors (loading it would need full unpickling, which can "
            "run code) and is refused; this run cannot be resumed, run its recipe again"
        ) from None
    except Exception as exc:  # truncated, not a torch file, ...
        raise ValueError(f"{path} is damaged ({type(exc).__name__}); this run cannot be "
                         "resumed, run its recipe again") from None
    if not isinstance(state, dict) or not {"step", "model", "optimizer"} <= set(state):
        raise ValueError(f"{path} is not a workbench training state; run the recipe again")
    return state


def _linear_schedule(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor
