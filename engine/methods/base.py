"""What every method handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from torch import nn


class TrainHook(Protocol):
    """Something a method leaves running during fine-tuning (a pruning schedule).

    `on_step` is called after every optimizer step with the step just taken; it may
    change the model (update masks) and emit events through the context it was given.
    `state_dict`/`load_state_dict` hold plain data so a training checkpoint resumes it
    exactly (the masks themselves are model buffers and travel with the model).
    """

    def on_step(self, step: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def no_event(event: Any) -> None:
    """The default emitter: nobody listens, so views (histograms) need not be computed."""


@dataclass
class MethodContext:
    module: nn.Module  # the model being optimized, modified in place
    task: str  # causal-lm | classification | generic
    log: Callable[[str], None] = lambda message: None
    data: Any = None  # engine.data.DataBundle when the recipe has data (for data-aware methods)
    emit: Callable[[Any], None] = no_event  # engine.events for live views
    total_steps: int = 0  # optimizer steps fine-tuning will take (0: no fine-tuning)
    batch_size: int = 16
    device: Any = None  # torch.device the model is on
    seed: int = 0
    example_inputs: tuple | None = None  # inputs the model runs on (None: methods probe)
    # parent() -> the recipe's model as loaded, before any step changed it (a fresh load, so
    # it costs memory only when a step asks: a distillation teacher); None outside a job
    parent: Callable[[], Any] | None = None
    # load_model(ModelSpec) -> LoadedModel through the job's workspace (variants too)
    load_model: Callable[[Any], Any] | None = None
    loaded: Any = None  # the job's LoadedModel (whose .module is `module`); None outside a job
    folder: Path | None = None  # the run folder, for files a step keeps (teacher outputs)
    # the workspace run the recipe's model is (its baseline, or the variant it loaded) and the
    # workspace, so a step can name the runs it uses (a distillation teacher); None outside a job
    parent_run: str | None = None
    workspace: Any = None


@dataclass
class MethodResult:
    targets: list[str] = field(default_factory=list)  # layers the method changed
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    hooks: list[TrainHook] = field(default_factory=list)  # run during fine-tuning
    # what fine-tuning minimises instead of the task loss (distillation): an
    # engine.train.objective.ObjectiveFactory, given the objective so far, returns the new one
    objective: Callable[[Any], Any] | None = None
    # a new module that replaces the one the step was given (a smaller-configured student)
    module: nn.Module | None = None


@dataclass
class ArtifactContext:
    """What an artifact-stage method (stage="artifact") gets: the exported fp32 file.

    The handler writes a new file into `out_dir` and returns it as an ArtifactResult; the
    deploy stage then puts every file through the same checker / parity / latency / metric
    path, so a handler only makes the file (and records how it made it).
    """

    onnx_path: Path  # the variant's checked fp32 ONNX file (never modified)
    out_dir: Path  # the run folder: new files go here, named by kind
    task: str  # causal-lm | classification | generic
    input_names: list[str]  # the graph's inputs, in order
    data: Any = None  # engine.data.DataBundle (calibration draws from .train, never .val)
    log: Callable[[str], None] = lambda message: None
    emit: Callable[[Any], None] = no_event  # engine.events for live views
    progress: Callable[[float, str], None] = lambda fraction, message: None
    checkpoint: Callable[[], None] = lambda: None  # raises when the job is cancelled
    seed: int = 0
    step: int = 1  # 1-based step number in the recipe (two int8 steps get two files)
    # evaluate(path) -> the metrics of that ONNX file over the validation split, run in
    # onnxruntime (accuracy / perplexity ...); None without data
    evaluate: Callable[[Path], dict[str, float]] | None = None
    example_feeds: dict[str, Any] | None = None  # one small batch of inputs (numpy), no data


@dataclass
class ArtifactResult:
    kind: str  # onnx-int8-dynamic | onnx-int8-static | onnx-int4 | onnx-fp16 ...
    path: Path  # the file written (its external data, if any, beside it)
    # the method's own record for the card: settings used, fused op counts, nodes kept in
    # fp32, per-node errors, exclusion search steps...
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # plain-words remarks for the card
