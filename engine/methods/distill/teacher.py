"""The teacher of a distill step: loaded, frozen, on the student's device, and measured.

`teacher: parent` is the recipe's model as loaded, before any step changed it. The job reloads
it from the recipe's (resolved) model source (MethodContext.parent) instead of keeping a copy
taken before the methods stage: a copy would double the model's memory in every job, distilling
or not, while a reload costs memory only in the step that asks for it, and gives a module no
earlier step has touched (no masks, hooks or cut tensors). `teacher: model` loads
`teacher_model` through the job's loaders, so workspace variants resolve as for the recipe's own
model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.config_fields import ConfigError, FieldError
from engine.train.forward import forward


@dataclass
class Teacher:
    module: nn.Module  # eval mode, requires_grad off, on the student's device
    description: str
    params: int
    bytes: int  # parameters + buffers

    def note(self) -> str:
        """One line for the step's notes: what the teacher is and what it holds in memory."""
        return (f"teacher: {self.description}; {self.params / 1e6:.2f}M params, "
                f"{self.bytes / 2**20:.1f} MiB in memory (frozen, eval mode, no gradients)")


def load_teacher(cfg: Any, ctx: Any) -> Teacher:
    """The step's teacher, frozen on ctx.device; ConfigError when the job cannot load one."""
    if cfg.teacher == "parent":
        loaded = ctx.parent()
    else:
        try:
            loaded = ctx.load_model(cfg.teacher_model)
        except ConfigError as exc:  # its fields are the step's teacher_model fields
            raise ConfigError([FieldError(_teacher_path(e.path), e.message)
                               for e in exc.errors]) from exc  # fmt: skip
    module = loaded.module.eval().requires_grad_(False)
    if ctx.device is not None:
        module = module.to(ctx.device)
    tensors = [*module.parameters(), *module.buffers()]
    return Teacher(
        module=module, description=loaded.description,
        params=sum(p.numel() for p in module.parameters()),
        bytes=sum(t.numel() * t.element_size() for t in tensors),
    )  # fmt: skip


def teacher_run(cfg: Any, ctx: Any) -> str | None:
    """The workspace run the teacher is, when it is one: the run's parent (the baseline, or the
    variant the recipe loaded) for `teacher: parent`, the named variant for `source: variant`;
    None for a teacher from outside the workspace (the card then keeps its own numbers)."""
    if cfg.teacher == "parent":
        name = ctx.parent_run
    elif cfg.teacher_model.source == "variant":
        name = cfg.teacher_model.path.strip()
    else:
        return None
    if not name or ctx.workspace is None:
        return None
    try:  # the id, not a name a later run may take over
        return str(ctx.workspace.resolve(name).id)
    except KeyError:  # deleted meanwhile: the card's own numbers stand in
        return None


def teacher_metrics(teacher: nn.Module, ctx: Any) -> dict[str, float]:
    """The teacher's own metrics on the validation split: the mark the student is trained
    towards (the card keeps them; the Run page can draw them as a reference line)."""
    from engine.train.loop import evaluate, make_loader  # the loop imports the data stack

    loader = make_loader(ctx.data.val, ctx.batch_size, False, ctx.seed)
    return evaluate(teacher, ctx.task, loader, next(teacher.parameters()).device)


def teacher_problems(cfg: Any, loaded: Any, load: Callable[[Any], Any]) -> list[tuple[str, str]]:
    """(field, message) for a teacher_model that cannot teach `loaded` (the recipe's model)."""
    try:
        teacher = load(cfg.teacher_model)
    except ConfigError as exc:
        return [(_teacher_path(e.path), e.message) for e in exc.errors]
    if teacher.task != loaded.task:
        return [("teacher_model", f"the teacher is a {teacher.task} model and the student a "
                 f"{loaded.task} one; pick a teacher for the same task")]
    problem = space_problem(teacher.module, loaded.module, loaded.task)
    return [("teacher_model", problem)] if problem else []


def _teacher_path(path: str) -> str:
    """model.path -> teacher_model.path: the loaders name the recipe's model fields."""
    return "teacher_model." + path.split(".", 1)[1] if path.startswith("model.") else path


def output_size(module: nn.Module) -> int:
    """The size of a model's logits' last dimension (vocabulary or labels), from one forward."""
    device = next(module.parameters()).device
    probe = {"input_ids": torch.tensor([[0, 1]], device=device),
             "attention_mask": torch.ones(1, 2, dtype=torch.long, device=device)}  # fmt: skip
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return int(forward(module, probe).shape[-1])
    finally:
        module.train(was_training)


def space_problem(teacher: nn.Module, student: nn.Module, task: str) -> str:
    """Why teacher and student cannot be compared output by output; "" when they can."""
    t, s = output_size(teacher), output_size(student)
    if t == s:
        return ""
    what = "vocabulary" if task == "causal-lm" else "label space"
    return (f"the teacher's {what} has {t} entries but the student's has {s}: their outputs "
            f"cannot be compared; pick a teacher with the student's tokenizer / labels")
