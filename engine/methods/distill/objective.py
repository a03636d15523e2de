"""The distillation training objective: the task loss mixed with what the teacher knows.

    total = α · task + (1 − α) · KD + hidden_weight · hidden + attention_weight · attention

The teacher runs in eval mode under no_grad on the student's device; the student runs once
through engine.train.forward.forward with hooks on its blocks (capture.py). The objective is
an nn.Module because it may own parameters: one learned projection per mapped layer when the
student's width differs from the teacher's. The training loop calls `prepare(student)` before
it builds the optimizer, adds the objective's trainable parameters to it and saves its
state_dict with the resumable state (engine/train/loop.py, state.py). The teacher is held
outside the module's registry: it is neither trained nor saved with the objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from engine.methods.distill.blocks import transformer_blocks
from engine.methods.distill.capture import Captured, capture, use_eager_attention
from engine.methods.distill.losses import (
    DEFAULT_CHUNK,
    agreement,
    attention_loss,
    default_layer_map,
    hidden_loss,
    kd_loss,
)
from engine.train.forward import Batch, compute_loss, forward
from engine.train.objective import Parts, TaskLoss, TrainObjective


@dataclass(frozen=True)
class DistillSettings:
    """How the losses are weighted (D3's config maps onto this; validated by check())."""

    alpha: float = 0.5  # weight of the task loss; KD gets 1 − alpha
    temperature: float = 2.0
    hidden_weight: float = 0.0
    hidden_kind: Literal["mse", "cosine"] = "mse"
    layer_map: tuple[int, ...] | None = None  # teacher block per student block; None: even
    attention_weight: float = 0.0
    chunk: int = DEFAULT_CHUNK  # causal-LM KD: token positions per piece

    def check(self) -> None:
        """ValueError naming the field for settings no run could use."""
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.hidden_weight < 0 or self.attention_weight < 0:
            raise ValueError("hidden_weight and attention_weight must be >= 0")
        if self.hidden_kind not in ("mse", "cosine"):
            raise ValueError(f"hidden_kind must be mse or cosine, got {self.hidden_kind!r}")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")


def resolve_layer_map(layer_map: tuple[int, ...] | None, n_student: int, n_teacher: int) -> list[int]:
    """The teacher block for each student block; ValueError (field layer_map) when out of range."""
    if layer_map is None:
        return default_layer_map(n_student, n_teacher)
    if len(layer_map) != n_student:
        raise ValueError(f"layer_map has {len(layer_map)} entries but the student has "
                         f"{n_student} blocks: give one teacher block per student block")
    bad = [j for j in layer_map if not 0 <= j < n_teacher]
    if bad:
        raise ValueError(f"layer_map names teacher block(s) {bad}, the teacher has blocks "
                         f"0..{n_teacher - 1}")
    return list(layer_map)


class DistillObjective(nn.Module):
    """`loss(module, batch) -> (loss, parts)` for distilling `teacher` into the trained module."""

    def __init__(self, base: TrainObjective, teacher: nn.Module, task: str,
                 settings: DistillSettings | None = None) -> None:  # fmt: skip
        super().__init__()
        self.settings = settings or DistillSettings()
        self.settings.check()
        if task not in ("causal-lm", "classification"):
            raise ValueError(f"distillation needs a causal-lm or classification model, got {task!r}")
        self.base, self.task = base, task
        # a plain attribute holder keeps the teacher out of parameters() and state_dict()
        self._teacher = (teacher.eval().requires_grad_(False),)
        self.projections = nn.ModuleDict()  # str(student block) -> Linear(d_S, d_T)
        self.layer_map: list[int] = []
        self._prepared = False

    @property
    def teacher(self) -> nn.Module:
        """The teacher model (frozen, eval mode)."""
        return self._teacher[0]

    def prepare(self, student: nn.Module) -> None:
        """Bind to the module training will update: layer map, projections, devices. Once."""
        if self._prepared:
            return
        base_prepare = getattr(self.base, "prepare", None)
        if callable(base_prepare):  # an objective this one wraps may own parameters too
            base_prepare(student)
        s = self.settings
        device = next(student.parameters()).device
        self.teacher.to(device)
        if s.attention_weight > 0:
            use_eager_attention(student)
            use_eager_attention(self.teacher)
        if s.hidden_weight > 0:
            n_s, n_t = len(transformer_blocks(student)[1]), len(transformer_blocks(self.teacher)[1])
            self.layer_map = resolve_layer_map(s.layer_map, n_s, n_t)
            self._make_projections(student, device)
        self.to(device)
        self._prepared = True

    def _make_projections(self, student: nn.Module, device: torch.device) -> None:
        """A Linear(d_S, d_T) for each mapped pair whose widths differ, from one dry forward."""
        probe = {"input_ids": torch.zeros(1, 2, dtype=torch.long, device=device),
                 "attention_mask": torch.ones(1, 2, dtype=torch.long, device=device)}  # fmt: skip
        was_training = student.training
        student.eval()  # no dropout: the probe draws no random numbers
        with torch.no_grad():
            with capture(student, range(len(self.layer_map)), False) as got_s:
                forward(student, probe)
            with capture(self.teacher, self.layer_map, False) as got_t:
                forward(self.teacher, probe)
        student.train(was_training)
        for i, j in enumerate(self.layer_map):
            d_s, d_t = got_s.hidden[i].size(-1), got_t.hidden[j].size(-1)
            if d_s != d_t:
                self.projections[str(i)] = nn.Linear(d_s, d_t, device=device)

    def loss(self, module: nn.Module, batch: Batch) -> tuple[torch.Tensor, Parts]:
        """The weighted sum of the used losses; parts: each one and the top-1 agreement."""
        self.prepare(module)
        s = self.settings
        hidden, attention = s.hidden_weight > 0, s.attention_weight > 0
        with torch.no_grad():
            with capture(self.teacher, self.layer_map if hidden else (), attention) as got_t:
                t_logits = forward(self.teacher, batch)
        student_layers = range(len(self.layer_map)) if hidden else ()
        with capture(module, student_layers, attention) as got_s:
            s_logits = forward(module, batch)
        task, parts = self._task_loss(module, batch, s_logits)
        mask = batch["attention_mask"] if self.task == "causal-lm" else None
        kd = kd_loss(s_logits, t_logits, s.temperature, mask, s.chunk)
        total = s.alpha * task + (1.0 - s.alpha) * kd
        parts.update(task=task.detach(), kd=kd.detach())
        if hidden:
            h = self._hidden(got_s, got_t, batch["attention_mask"])
            total = total + s.hidden_weight * h
            parts["hidden"] = h.detach()
        if attention:
            # under model_parallel the student's last block may sit on another device
            student_att, teacher_att = got_s.attention, got_t.attention
            if student_att is not None and teacher_att is not None:
                student_att = student_att.to(teacher_att.device)
            a = attention_loss(student_att, teacher_att, batch["attention_mask"])
            total = total + s.attention_weight * a
            parts["attention"] = a.detach()
        parts["agreement"] = agreement(s_logits, t_logits, mask)
        return total, parts

    def _task_loss(self, module: nn.Module, batch: Batch, logits: torch.Tensor) -> tuple[torch.Tensor, Parts]:
        """The base objective's loss: from the student's logits when it is the task loss (one
        forward), else by calling it (its own parts kept, "task" is its total)."""
        if isinstance(self.base, TaskLoss):
            return compute_loss(self.task, logits, batch), {}
        loss, parts = self.base.loss(module, batch)
        return loss, dict(parts)

    def _hidden(self, got_s: Captured, got_t: Captured, mask: torch.Tensor) -> torch.Tensor:
        """Mean hidden-state loss over the mapped pairs."""
        s = self.settings
        losses = [
            # .to: under model_parallel a student block's output is on its stage's device
            hidden_loss(got_s.hidden[i].to(got_t.hidden[j].device), got_t.hidden[j], s.hidden_kind,
                        self.projections[str(i)] if str(i) in self.projections else None, mask)
            for i, j in enumerate(self.layer_map)
        ]  # fmt: skip
        return torch.stack(losses).mean()
