"""Events a Job emits while it runs.

They hold plain Python numbers and strings only (never tensors) so they can cross
threads as Qt signals and processes as JSON lines unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageStarted:
    stage: str  # load | methods | train | export | check | save
    message: str = ""


@dataclass(frozen=True)
class Progress:
    fraction: float  # whole-job progress, 0..1
    message: str = ""
    eta_s: float | None = None


@dataclass(frozen=True)
class Metric:
    name: str  # e.g. train/loss, val/loss, val/accuracy, lr, throughput, sparsity
    step: int
    value: float


@dataclass(frozen=True)
class LayerStats:
    step: int
    values: dict[str, float] = field(default_factory=dict)  # layer name -> fraction
    kind: str = "sparsity"


@dataclass(frozen=True)
class WeightHistogram:
    """Distribution of |w| of one layer: `phase` "before" (dense, at the start) or "now"."""

    step: int
    layer: str
    edges: tuple[float, ...]  # len(counts) + 1 bin edges over |w| (log10 scale when log=True)
    counts: tuple[int, ...]
    zeros: int = 0  # exact zeros, kept out of the bins so they don't flatten the plot
    phase: str = "now"
    log: bool = True


@dataclass(frozen=True)
class CalibrationProgress:
    """Samples a quantize step has pushed through onnxruntime so far.

    `phase` "calibration": samples the static quantizer has read from the calibration set
    (counted as onnxruntime pulls each batch; `attempt` 2, 3... are the exclusion search's
    candidates, each calibrated on the same set again). "node-error": samples run through
    the fp32 and the quantized file for the per-node error.
    """

    step: int  # the recipe step, 1-based
    done: int
    total: int
    phase: str = "calibration"  # calibration | node-error
    attempt: int = 1


@dataclass(frozen=True)
class NodeErrors:
    """Per-node quantization error of a quantize step's file, worst first (as on the card:
    node_error.NodeError.to_dict() with the anatomy's layer name)."""

    step: int
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExclusionStep:
    """One round of the accuracy-aware exclusion search, as the card's exclusion steps."""

    step: int
    round: int  # 1-based
    excluded: list[str] = field(default_factory=list)  # fp32 node names kept out of int8
    metrics: dict[str, float] = field(default_factory=dict)  # measured on the candidate file
    size_bytes: int = 0
    met: bool = False
    goal: str = ""  # e.g. "accuracy ≥ 0.8123"


@dataclass(frozen=True)
class Log:
    message: str
    level: str = "info"  # info | warning | error


@dataclass(frozen=True)
class RankState:
    """One training process of a multi-process run at a report step (rank 0 gathers and emits
    them); `state` running | paused | finished | cancelled | failed (with `error`)."""

    rank: int
    world: int
    host: str = ""
    device: str = ""
    step: int = 0
    samples_per_s: float = 0.0
    tokens_per_s: float = 0.0
    peak_mb: float = 0.0  # the GPU allocator's peak on CUDA, the process's peak RSS on CPU
    state: str = "running"
    error: str = ""


@dataclass(frozen=True)
class Artifact:
    kind: str  # checkpoint | onnx | report | recipe | metrics
    path: str


@dataclass(frozen=True)
class Finished:
    run_id: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cancelled:
    run_id: str


@dataclass(frozen=True)
class Failed:
    run_id: str
    error: str


Event = (
    StageStarted
    | Progress
    | Metric
    | LayerStats
    | WeightHistogram
    | CalibrationProgress
    | NodeErrors
    | ExclusionStep
    | Log
    | RankState
    | Artifact
    | Finished
    | Cancelled
    | Failed
)

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        StageStarted,
        Progress,
        Metric,
        LayerStats,
        WeightHistogram,
        CalibrationProgress,
        NodeErrors,
        ExclusionStep,
        Log,
        RankState,
        Artifact,
        Finished,
        Cancelled,
        Failed,
    )
}


def event_to_json(event: Event) -> str:
    """One JSON line for an event (used by `workbench-cli run --events-json`)."""
    return json.dumps({"event": type(event).__name__, **dataclasses.asdict(event)})


def event_from_json(line: str) -> Event:
    """Inverse of event_to_json; raises ValueError on a line that is not an event."""
    try:
        data = json.loads(line)
        cls = EVENT_TYPES[data.pop("event")]
        if cls is WeightHistogram:  # JSON has lists where the event holds tuples
            data["edges"], data["counts"] = tuple(data["edges"]), tuple(data["counts"])
        return cls(**data)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a workbench event line: {line[:80]!r}") from exc
