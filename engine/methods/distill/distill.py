"""The `distill` step: build the student, load the teacher, and train the one towards the other.

The handler acts on the module before training (stage "module"): it makes the student (layer
drop in place, a smaller configuration that replaces the module, or the model as earlier steps
left it), loads the frozen teacher and returns an objective factory, so the job's fine-tuning
minimises the distillation loss instead of the task loss alone (engine/stage_model.py).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from engine.config_fields import ConfigError, FieldError
from engine.events import Metric
from engine.methods.base import MethodContext, MethodResult
from engine.methods.distill.blocks import transformer_blocks
from engine.methods.distill.distill_config import DistillConfig
from engine.methods.distill.objective import DistillObjective, DistillSettings, resolve_layer_map
from engine.methods.distill.offline import TEACHER_OUTPUTS_FILE, OfflineTeacher, record_teacher_topk
from engine.methods.distill.students import (
    check_keep,
    default_keep,
    drop_layers,
    refresh_loaded,
    smaller_config,
    student_summary,
)
from engine.methods.distill.teacher import (
    Teacher,
    load_teacher,
    space_problem,
    teacher_metrics,
    teacher_run,
)
from engine.registry import register_method

TASKS = ("causal-lm", "classification")


def _blocks(module: nn.Module) -> int:
    return len(transformer_blocks(module)[1])


def _student_layers(cfg: DistillConfig, n: int) -> int:
    """Blocks of the smaller student: as set, else half the teacher's (at least one)."""
    return cfg.student_layers if cfg.student_layers is not None else max(1, n // 2)


def _keep(cfg: DistillConfig, n: int) -> list[int]:
    return list(cfg.keep_layers) if cfg.keep_layers else default_keep(n)


def _student_blocks(cfg: DistillConfig, n: int) -> int:
    """How many blocks the student will have, for a teacher with n blocks."""
    if cfg.student == "layer_drop":
        return len(_keep(cfg, n))
    return _student_layers(cfg, n) if cfg.student == "smaller" else n


def check_distill(cfg: DistillConfig, module: nn.Module) -> list[str]:
    """Problems the loaded model shows before anything runs (module: the recipe's model)."""
    needs_blocks = cfg.student != "as_loaded" or cfg.hidden_weight > 0 or cfg.layer_map
    if not needs_blocks:
        return []
    try:
        n = _blocks(module)
    except ValueError as exc:
        return [str(exc)]
    try:
        if cfg.student == "layer_drop":
            check_keep(_keep(cfg, n), n)
        elif cfg.student == "smaller":
            layers = _student_layers(cfg, n)
            if layers > n:
                return [f"student_layers {layers} is more than the teacher's {n} blocks; "
                        f"set 1 to {n}"]
            if layers == n and cfg.width_factor == 1.0:
                return [f"student_layers {n} and width_factor 1 give the teacher's own size; "
                        f"set student_layers below {n} or width_factor below 1"]
        if cfg.layer_map and cfg.teacher == "parent":
            resolve_layer_map(tuple(cfg.layer_map), _student_blocks(cfg, n), n)
    except ValueError as exc:
        return [str(exc)]
    return []


def distill_notes(cfg: DistillConfig, module: nn.Module) -> list[str]:
    """The teacher and the student in words, for the estimate (module: before the step)."""
    teacher = ("the model as loaded, before earlier steps change it" if cfg.teacher == "parent"
               else f"{cfg.teacher_model.source} {cfg.teacher_model.path}")  # fmt: skip
    losses = ", ".join(f"{name} ×{w:g}" for name, w in (
        ("task", cfg.alpha), ("soft labels", 1 - cfg.alpha), ("hidden states", cfg.hidden_weight),
        ("attention", cfg.attention_weight)) if w)  # fmt: skip
    notes = [f"teacher: {teacher}; losses: {losses or 'none'} (T={cfg.temperature:g})"]
    try:
        n = _blocks(module)
    except ValueError:
        return notes
    if cfg.student == "layer_drop":
        notes.append(f"student keeps blocks {_keep(cfg, n)} of the teacher's {n}, with their weights")
    elif cfg.student == "smaller":
        notes.append(f"student: {_student_layers(cfg, n)} of {n} blocks, width ×{cfg.width_factor:g}, "
                     "randomly initialised")
    return notes


def build_student(cfg: DistillConfig, module: nn.Module) -> tuple[nn.Module, list[int] | None]:
    """(the student, the teacher blocks it kept); layer drop cuts `module` in place."""
    if cfg.student == "layer_drop":
        keep = check_keep(_keep(cfg, _blocks(module)), _blocks(module))
        drop_layers(module, keep)
        return module, keep
    if cfg.student == "smaller":
        return smaller_config(module, _student_layers(cfg, _blocks(module)), cfg.width_factor), None
    return module, None


def segment_ends(keep: list[int], n: int) -> list[int]:
    """For a layer-drop student keeping teacher blocks `keep` of n: the teacher block whose
    output each student block should reproduce, the last one of the span it stands in for.

    Student block i (teacher block keep[i]) feeds teacher block keep[i+1], which in the teacher
    reads block keep[i+1] − 1's output; so that is the target, not keep[i]'s own output (which
    the student matches exactly at the start and would pin it there). [0, 2, 4] of 6 -> [1, 3, 5].
    """
    return [nxt - 1 for nxt in keep[1:]] + [n - 1]


def _settings(cfg: DistillConfig, keep: list[int] | None, n: int) -> DistillSettings:
    """The objective's settings; a layer-drop student's blocks map to the ends of the spans of
    teacher blocks they replace (segment_ends), unless layer_map says otherwise."""
    layer_map = tuple(cfg.layer_map) or (tuple(segment_ends(keep, n)) if keep else None)
    return DistillSettings(
        alpha=cfg.alpha, temperature=cfg.temperature, hidden_weight=cfg.hidden_weight,
        hidden_kind=cfg.hidden_kind, layer_map=layer_map,  # type: ignore[arg-type]
        attention_weight=cfg.attention_weight, chunk=cfg.chunk,
    )  # fmt: skip


def describe_distill(cfg: DistillConfig) -> str:
    """The card's label for the step, e.g. 'distill(parent → layer_drop [0, 2], α=0.5, T=2)'."""
    student = cfg.student
    if student == "layer_drop" and cfg.keep_layers:
        student += f" {list(cfg.keep_layers)}"
    elif student == "smaller":
        student += f" {cfg.student_layers or 'half'} blocks × {cfg.width_factor:g} width"
    teacher = cfg.teacher if cfg.teacher == "parent" else cfg.teacher_model.path
    extra = "".join(f", {name}={w:g}" for name, w in
                    (("hidden", cfg.hidden_weight), ("attention", cfg.attention_weight)) if w)  # fmt: skip
    return f"distill({teacher} → {student}, α={cfg.alpha:g}, T={cfg.temperature:g}{extra})"


def _refuse(field: str, message: str) -> ConfigError:
    return ConfigError([FieldError(field, message)])


@register_method(
    "distill",
    "distill",
    "Knowledge distillation (teacher → student)",
    DistillConfig,
    help="Train a smaller student towards a teacher's outputs (soft labels, optionally hidden "
    "states and attention): the student keeps some of the teacher's blocks, is a smaller "
    "configuration, or is the model earlier steps pruned.",
    check=check_distill,
    rank=10,
    effect="smaller",
    describe=describe_distill,
)
def apply_distill(cfg: DistillConfig, ctx: MethodContext) -> MethodResult:
    """Build the student in place (or a new one), load the teacher, return the KD objective."""
    if ctx.task not in TASKS:
        raise _refuse("type", f"distillation compares logits of text models "
                      f"(causal-lm or classification); this model is {ctx.task}")
    student, keep = build_student(cfg, ctx.module)
    replaced = student if student is not ctx.module else None
    if ctx.loaded is not None:  # the card's description and the checkpoint's config follow
        ctx.loaded.module = student
        refresh_loaded(ctx.loaded)
    if ctx.parent is None or ctx.load_model is None:  # an estimate: the student's size only
        return MethodResult(module=replaced)
    if ctx.total_steps == 0:
        raise _refuse("train.epochs", "distillation trains the student towards the teacher; "
                      "set train.epochs above 0 and give the recipe data")
    if ctx.device is not None:
        student.to(ctx.device)
    teacher = load_teacher(cfg, ctx)
    problem = space_problem(teacher.module, student, ctx.task)
    if problem:
        raise _refuse("teacher_model" if cfg.teacher == "model" else "teacher", problem)
    settings = _settings(cfg, keep, _blocks(teacher.module))
    if settings.hidden_weight > 0 and settings.layer_map is not None:
        try:
            resolve_layer_map(settings.layer_map, _blocks(student), _blocks(teacher.module))
        except ValueError as exc:
            raise _refuse("layer_map", str(exc)) from exc
    ctx.log(teacher.note())
    summary = student_summary(teacher.module, student, keep)
    card = {"teacher": teacher.description, "teacher_bytes": teacher.bytes, **summary,
            "notes": [teacher.note()]}  # fmt: skip
    run = teacher_run(cfg, ctx)
    if run is not None:  # the Compare page shows the student next to this run
        card["teacher_run"] = run
    if ctx.data is not None and len(ctx.data.val):
        card["teacher_metrics"] = teacher_metrics(teacher.module, ctx)
        ctx.log("teacher on the validation split: "
                + ", ".join(f"{k}={v:.4f}" for k, v in card["teacher_metrics"].items()))
        for key in ("accuracy", "perplexity"):  # the Run page's dashed reference line
            if key in card["teacher_metrics"]:
                ctx.emit(Metric(f"teacher/val/{key}", 0, float(card["teacher_metrics"][key])))
    source = teacher.module
    if cfg.offline_topk:
        source, card["offline"] = offline_teacher(cfg.offline_topk, teacher, ctx)
        card["notes"].append(card["offline"]["note"])
        ctx.log(card["offline"]["note"])
    del teacher  # offline: the recorded file stands in, the teacher's memory is freed
    return MethodResult(
        summary={"card": card}, module=replaced,
        objective=lambda base: DistillObjective(base, source, ctx.task, settings),
    )  # fmt: skip


def offline_teacher(k: int, teacher: Teacher, ctx: MethodContext) -> tuple[nn.Module, dict]:
    """Record the teacher's top-k logits over the training split into the run folder; the
    stand-in that serves them, and the record for the card (file size, memory saved)."""
    if ctx.folder is None or ctx.data is None:
        raise _refuse("offline_topk", "recording the teacher's outputs needs the job's "
                      "training data and run folder")
    record = record_teacher_topk(teacher.module, ctx.data.train, k, Path(ctx.folder) / TEACHER_OUTPUTS_FILE,
                                 next(teacher.module.parameters()).device, ctx.batch_size)  # fmt: skip
    note = (f"teacher outputs: top-{record.k} logits of {record.samples} samples in "
            f"{record.path.name} ({record.file_bytes / 2**20:.1f} MiB); training holds no "
            f"teacher ({record.teacher_bytes / 2**20:.1f} MiB saved)")
    info = {"file": record.path.name, "k": record.k, "samples": record.samples,
            "file_bytes": record.file_bytes, "teacher_bytes_saved": record.teacher_bytes,
            "note": note}  # fmt: skip
    return OfflineTeacher(record.path), info
