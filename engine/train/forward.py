"""The one forward call and the task loss: every place that runs a batch through the model.

The workbench's models take (input_ids, attention_mask) and return logits; training,
evaluation, Taylor importance, structured pruning's calibration and the training bench
all go through `forward` / `forward_loss`, so a change to how a batch is fed is made once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Batch = dict[str, torch.Tensor]


def to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch's tensors on `device` (copies overlap with compute where the loader pins)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def forward(module: nn.Module, batch: Batch) -> torch.Tensor:
    """The model's logits for a batch."""
    return module(batch["input_ids"], batch["attention_mask"])


def compute_loss(task: str, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
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


def forward_loss(module: nn.Module, batch: Batch, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(task loss, logits) of one batch; the loss keeps its graph for backward."""
    logits = forward(module, batch)
    return compute_loss(task, logits, batch), logits
