"""What fine-tuning minimises: a training objective, `loss(module, batch) -> (loss, parts)`.

The loop takes backward of `loss` and knows nothing about the task. The task loss
(cross-entropy for classifiers, next-token for causal LMs) is one objective; a method that
trains towards something else (distillation: the task loss mixed with a teacher's soft
labels) supplies its own by returning an `ObjectiveFactory` in its MethodResult. Each
named part of a loss flows out live as a Metric `train/loss/<name>`, averaged over the
same window as `train/loss` itself, so the Run page can plot every component.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from engine.train.forward import Batch, forward_loss

PART_PREFIX = "train/loss/"  # Metric name of a loss component: PART_PREFIX + its name

Parts = dict[str, "torch.Tensor | float"]


class TrainObjective(Protocol):
    """The scalar the loop takes backward of, and its named components.

    `parts` values are detached tensors (kept on the device: the loop reads them only at
    log steps, no host sync per step) or floats. An objective with no components returns
    {} (the loss is `train/loss` already).
    """

    def loss(self, module: nn.Module, batch: Batch) -> tuple[torch.Tensor, Parts]: ...


# A method's seam into training: given the objective training would use (the task loss,
# or what an earlier step made of it), the one to use instead. The handler builds it with
# what it needs in hand (a teacher, the device), e.g. `lambda task: Distill(task, teacher)`.
ObjectiveFactory = Callable[[TrainObjective], TrainObjective]


@dataclass(frozen=True)
class TaskLoss:
    """The task's own loss: what fine-tuning minimises when no step says otherwise."""

    task: str

    def loss(self, module: nn.Module, batch: Batch) -> tuple[torch.Tensor, Parts]:
        """Cross-entropy of one batch (engine.train.forward.compute_loss); no components."""
        loss, _ = forward_loss(module, batch, self.task)
        return loss, {}


def build_objective(task: str, factories: Sequence[ObjectiveFactory] = ()) -> TrainObjective:
    """The task loss, wrapped by each step's factory in recipe order."""
    objective: TrainObjective = TaskLoss(task)
    for make in factories:
        objective = make(objective)
    return objective
