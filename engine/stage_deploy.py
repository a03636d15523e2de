"""The stages that work on files: export (the fp32 ONNX file), deploy (each artifact step
writes its file from it; every file is measured through one path) and check (the card's
verdicts, then the run is recorded as finished)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx

from engine.baseline import run_warnings
from engine.config_fields import config_to_dict
from engine.events import Artifact
from engine.export.artifact_report import measure_artifacts
from engine.methods.base import ArtifactContext, ArtifactResult
from engine.registry import entry_for_config
from engine.report import build_card, method_label
from engine.shrink import shrink_report
from engine.store import TRAIN_STATE as STATE_FILE

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.stages import JobState, Pipeline


def export_stage(p: Pipeline, s: JobState) -> None:
    """The fp32 ONNX file, checked (checker, parity against PyTorch, latency)."""
    if not p.recipe.export.enabled:
        return
    ctx = p.enter_stage("export", "exporting to ONNX")
    s.onnx = p.export(s.loaded, s.data, s.folder / "model.onnx", ctx).to_dict()
    p.ctx.emit(Artifact("onnx", s.onnx["path"]))


def graph_inputs(path: Path) -> list[str]:
    """The ONNX file's inputs, in order (an ids-only text model has one)."""
    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def _latency_feeds(s: JobState, names: list[str]) -> dict[str, Any]:
    """The export's latency inputs (export.latency_batch x latency_seq) as numpy feeds."""
    shape = (s.onnx or {}).get("latency_shape") or []
    if len(shape) > 1:
        inputs = s.loaded.example_inputs(batch=shape[0], seq=shape[1])
    else:
        inputs = s.loaded.example_inputs()
    return {n: t.numpy() for n, t in zip(names, inputs, strict=False)}


def _evaluator(p: Pipeline, s: JobState, names: list[str]) -> Any:
    """evaluate(path) -> an ONNX file's metrics over the validation split; None without data."""
    from engine.export.artifact_eval import evaluate_onnx

    if s.data is None:
        return None
    task, val, batch = s.loaded.task, s.data.val, p.recipe.train.batch_size
    return lambda path: evaluate_onnx(path, task, val, names, batch)


def _run_artifact_steps(
    p: Pipeline, s: JobState, names: list[str], ctx: Any
) -> list[ArtifactResult]:
    """Each artifact step writes its file from the fp32 one; their results in recipe order."""
    r, results = p.recipe, []
    steps = [(i, cfg) for i, cfg in enumerate(r.methods) if entry_for_config(cfg).stage == "artifact"]
    for k, (i, cfg) in enumerate(steps):
        entry = entry_for_config(cfg)
        ctx.log(f"Step {i + 1} · {entry.label}: {method_label(cfg)}")
        sub = ctx.sub(k / len(steps), (k + 1) / len(steps))
        actx = ArtifactContext(
            onnx_path=Path(s.onnx["path"]), out_dir=s.folder, task=s.loaded.task,
            input_names=names, data=s.data, log=ctx.log, emit=p.ctx.emit, progress=sub.progress,
            checkpoint=p.ctx.checkpoint, seed=r.train.seed, step=i + 1,
            evaluate=_evaluator(p, s, names), example_feeds=_latency_feeds(s, names),
        )  # fmt: skip
        res = entry.handler(cfg, actx)
        res.summary.setdefault("step", i + 1)
        res.summary.setdefault("method", entry.describe(cfg) if entry.describe else method_label(cfg))
        results.append(res)
        p.ctx.emit(Artifact(res.kind, str(res.path)))
    return results


def deploy_stage(p: Pipeline, s: JobState) -> None:
    """Artifact steps, then every deployable file measured side by side (fp32 and parent too)."""
    if s.onnx is None or not p.recipe.methods:
        return
    ctx = p.enter_stage("deploy", "making and measuring the deployable files")
    names = graph_inputs(Path(s.onnx["path"]))
    has_steps = any(entry_for_config(c).stage == "artifact" for c in p.recipe.methods)
    results = _run_artifact_steps(p, s, names, ctx.sub(0.0, 0.7 if has_steps else 0.0))
    parent = (p._parent_card() or {}).get("onnx") or {}
    entries = measure_artifacts(
        s.onnx["path"], [(res.kind, res.path, res.summary) for res in results], s.loaded.task,
        s.data, names, _latency_feeds(s, names), cfg=p.recipe.export,
        parent_fp32_path=parent.get("path"), log=ctx.log, batch_size=p.recipe.train.batch_size,
        fp32_report=s.onnx, progress=ctx.sub(0.7, 1.0).progress, checkpoint=p.ctx.checkpoint,
    )  # fmt: skip
    for entry, res in zip(entries[1:], results, strict=True):
        entry.update(step=res.summary.get("step"), method=res.summary.get("method"),
                     summary=res.summary, notes=list(res.notes))  # fmt: skip
    s.artifacts = entries
    ctx.progress(1.0, "deployable files measured")


def check_stage(p: Pipeline, s: JobState) -> None:
    """The card with its verdicts (did it shrink, did it collapse), then the finished record."""
    r = p.recipe
    ctx = p.enter_stage("check", "judging the result")
    card = build_card(
        run_id=p.run_id, recipe=r, parent=p.parent_id, loaded=s.loaded, data=s.data,
        before=s.before, after=s.after, targets=s.targets, module=s.loaded.module,
        metrics=s.metrics, train_stats=s.train_stats, onnx=s.onnx, folder=s.folder,
        started=s.started,
    )  # fmt: skip
    card["steps"] = p.step_reports  # what each step reached when it was applied
    card["artifacts"] = s.artifacts
    card["checks"] = config_to_dict(r.checks)  # the collapse thresholds judged by
    if r.deploy.targets:  # every deployable file against each deployment target
        from engine.deploy.checks import run_target_checks

        card["target_checks"] = run_target_checks(card, r.deploy.targets, p.ws.root, ctx.log)
    if r.methods:  # "did it really shrink and speed up?", against the parent's card
        card["shrink"] = shrink_report(card, p._parent_card())
    p.ctx.checkpoint()  # cancelled during the last stage: not recorded as finished
    warnings = run_warnings(s.train_stats, s.metrics, s.data)
    if warnings:  # finished, but never a plain "finished": the card and listings say why
        card["warnings"] = warnings
    p.ws.finish(p.run_id, card)
    # the optimizer state makes it 3x the model; a finished run never resumes
    (s.folder / STATE_FILE).unlink(missing_ok=True)
    p.ctx.emit(Artifact("report", str(s.folder / "report.json")))
    p.ctx.progress(1.0, "done")
    s.card = card
