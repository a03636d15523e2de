"""The training setup's live metrics: gradient norm, fp16 loss scale and skipped steps, peak memory.

Emitted at log steps only (beside train/loss and throughput), so reading them costs one host
sync per `log_every` steps. Peak memory is what the device allocator saw on a GPU
(`memory/peak_mb`), and the process's peak resident set on CPU (`memory/peak_rss_mb`, which
counts everything the process holds, not just tensors, so it is named apart).
"""

from __future__ import annotations

import math
import resource
import sys

import torch

from engine.context import JobContext
from engine.events import Metric
from engine.train.precision import Precision, StepInfo

GRAD_NORM = "train/grad_norm"
LOSS_SCALE = "train/loss_scale"
SKIPPED = "train/skipped_steps"
PEAK_GPU = "memory/peak_mb"
PEAK_RSS = "memory/peak_rss_mb"


def peak_memory_mb(device: torch.device) -> tuple[str, float]:
    """(metric name, peak MB): the CUDA allocator's peak on a GPU, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return PEAK_GPU, torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes
    return PEAK_RSS, rss / (2**20 if sys.platform == "darwin" else 2**10)


def emit_setup_metrics(
    ctx: JobContext, step: int, info: StepInfo, precision: Precision, device: torch.device,
    skipped: int,
) -> None:  # fmt: skip
    """Emit the log step's gradient norm, fp16 scale and skipped-step count, and peak memory."""
    norm = float(info.grad_norm) if info.grad_norm is not None else math.nan
    if math.isfinite(norm):  # a skipped fp16 step's norm is inf: its scale says it
        ctx.emit(Metric(GRAD_NORM, step, norm))
    scale = precision.loss_scale()
    if scale is not None:
        ctx.emit(Metric(LOSS_SCALE, step, scale))
        ctx.emit(Metric(SKIPPED, step, float(skipped)))
    name, mb = peak_memory_mb(device)
    ctx.emit(Metric(name, step, mb))
