"""A recipe as a flowchart: its stages in the order the job runs them (engine/stages.py).

Each node's key is the stage name the job's StageStarted events carry, so a view can tick
the nodes off as a run goes (several nodes share a key when one stage runs several steps:
each method step is a "methods" node, each artifact step a "deploy" node). The training
node carries the training setup as its own small flow, built from the recipe's TrainConfig.
Pure data: the GUI, the report and the CLI draw it their own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.estimate import step_title
from engine.recipe import Recipe
from engine.registry import entry_for_config
from engine.train.train_config import TrainConfig

# what a step without its own describe() does, in a few words (registry effect names)
EFFECT_WORDS = {"masks": "zeroes weights", "smaller": "removes parts", "quantized": "quantized file",
                "none": "changes training"}  # fmt: skip


@dataclass(frozen=True)
class FlowNode:
    key: str  # the StageStarted stage name (load, baseline, methods, train, save, ...)
    label: str  # the box's title
    detail: str = ""  # one line under it
    sub: tuple[str, ...] = ()  # the training setup as a flow (train node only)


def _step_nodes(recipe: Recipe, stage: str, key: str) -> list[FlowNode]:
    """One node per method step the registry runs in `stage`, titled as the card titles it."""
    nodes = []
    for i, cfg in enumerate(recipe.methods):
        entry = entry_for_config(cfg)
        if entry.stage != stage:
            continue
        detail = entry.describe(cfg) if entry.describe else f"{entry.family}: {EFFECT_WORDS[entry.effect]}"
        nodes.append(FlowNode(key, f"{i + 1}. {step_title(cfg)}", detail))
    return nodes


def _comm_step(t: TrainConfig) -> str | None:
    """How the ranks or devices share the step; None for one process on one device."""
    n = t.processes
    if t.strategy == "ddp":
        return f"all-reduce over {n} ranks (ddp)"
    if t.strategy == "fsdp":
        return f"reduce-scatter over {n} ranks (fsdp)"
    if t.strategy == "deepspeed":
        return f"ZeRO-{t.deepspeed_stage} over {n} ranks (deepspeed)"
    if t.strategy == "dataparallel":
        return "scatter / gather over the GPUs (dataparallel)"
    if t.strategy == "model_parallel":
        return f"blocks split over {t.devices or 'the devices'} (model parallel)"
    return None


def train_flow(t: TrainConfig, objective: str = "task loss") -> tuple[str, ...]:
    """The training step as a flow, e.g. ('autocast bf16', 'backward', 'all-reduce ...', ...)."""
    batch = f"batch {t.batch_size}" + (f" × {t.grad_accum_steps} accum" if t.grad_accum_steps > 1 else "")
    forward = f"autocast {t.precision}" if t.precision != "fp32" else "forward fp32"
    if t.grad_checkpointing:
        forward += " + recompute"
    flow = [batch, forward, objective]
    flow.append("backward (grad scaler)" if t.precision == "fp16" else "backward")
    comm = _comm_step(t)
    if comm:
        flow.append(comm)
    if t.clip_grad_norm is not None:
        flow.append(f"clip {t.clip_grad_norm:g}")
    flow.append("step" + (f", warm-up {t.warmup_steps}" if t.warmup_steps else ""))
    return tuple(flow)


def _train_node(recipe: Recipe) -> FlowNode:
    """Fine-tuning with its flow; with no epochs the stage only evaluates."""
    t = recipe.train
    if t.epochs <= 0:
        return FlowNode("train", "Evaluate", "no fine-tuning (epochs 0)")
    limit = f"max {t.max_steps} steps" if t.max_steps else f"{t.epochs} epoch(s)"
    where = f", {t.processes} processes" if t.processes > 1 else ""
    families = {entry_for_config(c).family for c in recipe.methods}
    objective = "task + distill loss" if "distill" in families else "task loss"
    return FlowNode("train", "Fine-tune", f"{limit}, lr {t.lr:g}{where}", train_flow(t, objective))


def _check_node(recipe: Recipe) -> FlowNode:
    targets = recipe.deploy.targets
    detail = "targets: " + ", ".join(targets) if targets else "collapse and shrink checks"
    return FlowNode("check", "Check", detail)


def recipe_flow(recipe: Recipe) -> list[FlowNode]:
    """The recipe's stages in run order, as nodes keyed by their StageStarted names."""
    m = recipe.model
    nodes = [FlowNode("load", "Load", f"{m.source}:{m.path} · data {recipe.data.path}")]
    if recipe.parent is None and recipe.methods:  # setup builds (or reuses) the baseline
        nodes.append(FlowNode("baseline", "Baseline", "unmodified model, evaluated once"))
    nodes += _step_nodes(recipe, "module", "methods")
    nodes.append(_train_node(recipe))
    nodes += _step_nodes(recipe, "post_train", "train")  # they run once training is over
    nodes.append(FlowNode("save", "Save", "checkpoint + anatomy"))
    if recipe.export.enabled:
        nodes.append(FlowNode("export", "Export", f"ONNX opset {recipe.export.opset}"))
        if recipe.methods:  # the deploy stage runs (and measures) only for a recipe with steps
            artifacts = _step_nodes(recipe, "artifact", "deploy")
            nodes += artifacts or [FlowNode("deploy", "Measure", "fp32 file vs the parent")]
    nodes.append(_check_node(recipe))
    return nodes


def flow_text(nodes: list[FlowNode]) -> str:
    """One line per node ('load: Load — detail'), the training flow indented under it."""
    lines: list[str] = []
    for n in nodes:
        lines.append(f"{n.key}: {n.label}" + (f" — {n.detail}" if n.detail else ""))
        if n.sub:
            lines.append("    " + " → ".join(n.sub))
    return "\n".join(lines)


def node_dicts(nodes: list[FlowNode]) -> list[dict[str, Any]]:
    """The nodes as JSON-able dicts (for a report or `--json`)."""
    return [{"key": n.key, "label": n.label, "detail": n.detail, "sub": list(n.sub)} for n in nodes]
