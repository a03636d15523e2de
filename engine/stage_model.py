"""The stages that work on the PyTorch module: methods (steps acting on the module before
training), train (fine-tuning, then what steps do once training is over, then evaluation)
and save (checkpoint and anatomy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.estimate import fmt_count, step_counts, step_title
from engine.events import Artifact, LayerStats
from engine.layer_report import REMOVED_KIND, structured_removed
from engine.methods.base import MethodContext, MethodResult
from engine.methods.prune.masks import layer_sparsity
from engine.models.checkpoint import save_model
from engine.models.loaders import load_model
from engine.models.summary import summarize
from engine.registry import MethodEntry, entry_for_config
from engine.report import method_label
from engine.stage_load import load_step_model
from engine.store import TRAIN_STATE as STATE_FILE
from engine.store import atomic_write_json
from engine.train.loop import evaluate, fine_tune, make_loader, total_steps
from engine.train.objective import build_objective

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.stages import JobState, Pipeline


def _module_steps(p: Pipeline, stage: str) -> list[tuple[Any, MethodEntry]]:
    return [(cfg, e) for cfg in p.recipe.methods if (e := entry_for_config(cfg)).stage == stage]


def _masked(done: list[tuple[MethodEntry, MethodResult]]) -> list[str]:
    """Layers holding masks so far, in module order (steps that cut tensors leave no zeros)."""
    return list(dict.fromkeys(t for e, res in done if e.effect == "masks" for t in res.targets))


def methods_stage(p: Pipeline, s: JobState) -> None:
    """Run each step that acts on the module before training; fills s.targets and s.hooks."""
    r = p.recipe
    ctx = p.enter_stage("methods", "applying optimization methods")
    module = s.loaded.module
    done: list[tuple[MethodEntry, MethodResult]] = []
    # resuming: the methods' step-0 view is superseded by the loaded training state, whose
    # schedules report the state they resume from instead; their hooks keep this emitter,
    # so it is unmuted again before training
    muted = [p.resume_run is not None]

    def method_events(event: Any) -> None:
        if not muted[0]:
            p.ctx.emit(event)

    data = s.data
    steps = total_steps(len(data.train), r.train) if data is not None and r.train.epochs else 0
    for cfg, entry in _module_steps(p, "module"):
        ctx.log(f"Step {len(done) + 1} · {entry.label}: {method_label(cfg)}")
        mctx = MethodContext(
            module=module, task=s.loaded.task, log=ctx.log, data=data, emit=method_events,
            total_steps=steps, batch_size=r.train.batch_size, device=s.device, seed=r.train.seed,
            parent=lambda: load_model(s.spec, p.ws), loaded=s.loaded, folder=s.folder,
            parent_run=p.parent_id, workspace=p.ws,
            # the step takes the model the load stage checked: only the step holds it then
            load_model=lambda spec: s.step_models.pop(spec, None) or load_step_model(p, s, spec),
        )  # fmt: skip
        done.append((entry, entry.handler(cfg, mctx)))
        if done[-1][1].module is not None:  # the step built a new model (a smaller student)
            s.loaded.module = module = done[-1][1].module
        _report_step(p, cfg, done, module, ctx.log)
    s.targets = _masked(done)
    removed = structured_removed([res for e, res in done if e.effect == "smaller"], module)
    if removed:  # layers shrank: no zeros to count, so say how much of each went
        method_events(LayerStats(0, removed, kind=REMOVED_KIND))
    muted[0] = False
    ctx.progress(1.0)
    s.hooks = [h for _, res in done for h in res.hooks]
    s.objectives = [res.objective for _, res in done if res.objective is not None]


def _report_step(
    p: Pipeline, cfg: Any, done: list[tuple[MethodEntry, MethodResult]], module: Any,
    log: Callable[[str], None],
) -> None:  # fmt: skip
    """Log what the step just applied left and keep it for card["steps"].

    Sparsity is over every layer a masking step targeted so far (masks of successive
    steps combine); a scheduled step reports its start and the amount training reaches.
    """
    res = done[-1][1]
    rep = {"step": len(done), "title": step_title(cfg), "method": method_label(cfg),
           "layers": len(res.targets), **step_counts(module, _masked(done))}  # fmt: skip
    rep.update(res.summary.get("card", {}))  # the method's own record (criterion used, notes)
    line = (f"Step {rep['step']} · {rep['title']}: sparsity {rep['sparsity']:.1%} of the "
            f"masked layers; {fmt_count(rep['nonzero'])} of {fmt_count(rep['params'])} "
            "parameters non-zero")  # fmt: skip
    if res.hooks and getattr(cfg, "amount", None) is not None:
        rep["final_target"] = cfg.amount
        line += f" (its schedule reaches {cfg.amount:.1%} of its layers during training)"
    p.step_reports.append(rep)
    log(line)


def train_stage(p: Pipeline, s: JobState) -> None:
    """Fine-tune (when the recipe trains), let each step finish its work, evaluate."""
    r = p.recipe
    ctx = p.enter_stage("train", "fine-tuning")
    module, task = s.loaded.module, s.loaded.task
    if s.data is not None and r.train.epochs > 0:
        if r.train.strategy == "deepspeed":  # the config DeepSpeed trains with, in the run folder
            from engine.train.deepspeed_config import write_config

            write_config(r.train, s.folder, s.device.type)
        targets = s.targets
        s.train_stats = fine_tune(
            module, task, s.data.train, s.data.val, r.train, ctx, s.device,
            layer_stats=(lambda: layer_sparsity(module, targets)) if targets else None,
            hooks=s.hooks, state_path=s.folder / STATE_FILE, resume=p.resume_run is not None,
            objective=build_objective(task, s.objectives),
        )  # fmt: skip
    s.objectives, s.step_models = [], {}  # a teacher's memory is free again for export
    for cfg in p.recipe.methods:  # e.g. masks become permanent zeros in the weights
        entry = entry_for_config(cfg)
        if entry.finalize is not None:
            entry.finalize(cfg, module)
    for cfg, entry in _module_steps(p, "post_train"):
        ctx.log(f"{entry.label}: {method_label(cfg)}")
        entry.handler(cfg, MethodContext(module=module, task=task, log=ctx.log, data=s.data,
                                         device=s.device, seed=r.train.seed))  # fmt: skip
    if s.data is not None:
        loader = make_loader(s.data.val, r.train.batch_size, False, r.data.seed)
        s.metrics = evaluate(module, task, loader, s.device)
    if s.train_stats and s.train_stats.final_train_loss is not None:
        s.metrics["train_loss"] = s.train_stats.final_train_loss
    ctx.log("evaluation: " + ", ".join(f"{k}={v:.4f}" for k, v in s.metrics.items()))


def save_stage(p: Pipeline, s: JobState) -> None:
    """Checkpoint and anatomy of the trained module."""
    p.enter_stage("save", "saving checkpoint")
    s.loaded.module = s.loaded.module.cpu().eval()
    ckpt = save_model(s.loaded, s.folder / "checkpoint")
    p.ctx.emit(Artifact("checkpoint", str(ckpt)))
    s.after = summarize(s.loaded.module, s.loaded.example_inputs())
    atomic_write_json(s.folder / "anatomy.json", s.after.to_dict())
