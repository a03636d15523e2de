"""What a recipe's steps will leave of a model, step by step, before anything runs.

The estimate applies the steps in order to a deep copy of the model with the methods' own
handlers (the code a run uses), so stacked steps compose exactly as they will in the run:
masks combine, a structured step shrinks the tensors the next step sees, and a step the
engine would refuse at that point says why. No training happens: a schedule (iterative or
gradual) is applied at once at its final amount, which is what the run reaches by the end of
fine-tuning. Criteria that need data (Taylor, and structured `auto`) are estimated with
magnitude (L1 for structured steps): the counts are the same except for threshold modes and
global structured rankings, where which weights go depends on the scores. A step whose
config has `notes(module, task, has_data)` adds what it will do differently from what was
asked (e.g. heads rounded to whole key/value groups) and risky choices, before the run.

The caller's module is never touched, so `estimate_steps` can run on a worker thread.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from engine.config_fields import step_number
from engine.methods.base import MethodContext
from engine.methods.prune.masks import count_params, overall_sparsity
from engine.registry import entry_for_config, order_errors
from engine.script_refusal import script_step_problem


@dataclass
class StepEstimate:
    label: str  # e.g. "Step 1 · Unstructured pruning 50%"
    targeted_layers: int  # layers this step acts on (never more than the model has)
    params: int  # parameters after this step (structured steps shrink this)
    nonzero: int  # non-zero parameters after this step
    sparsity: float  # combined sparsity of the weights masking steps targeted so far
    error: str = ""  # non-empty when the engine would refuse this step here
    notes: list[str] = field(default_factory=list)  # asked vs done, risky choices (not errors)
    artifact: bool = False  # acts on the exported ONNX file, not on the module


@dataclass
class StepsEstimate:
    dense_params: int
    steps: list[StepEstimate]
    dense_nonzero: int = 0  # non-zeros of the untouched model (biases may start at zero)

    def text(self) -> str:
        """One line saying what it counts, e.g. 'Non-zero parameters after pruning: …'."""
        bad = next((s for s in self.steps if s.error), None)
        if bad is not None:
            return f"No estimate: {bad.label.split(' · ')[0]} cannot be applied here: {bad.error}"
        if not self.steps:
            return f"Parameters: {fmt_count(self.dense_params)} (no step yet)"
        if all(s.artifact for s in self.steps):  # "after pruning" would be wrong: nothing prunes
            return (f"Parameters: {fmt_count(self.dense_params)}, unchanged in PyTorch "
                    "(the steps quantize the exported ONNX file)")
        last = self.steps[-1]
        base = self.dense_nonzero or self.dense_params
        if last.nonzero < last.params:  # zeros held by masks: count what is left non-zero
            cut = 1.0 - last.nonzero / base if base else 0.0
            return (f"Non-zero parameters after pruning: {fmt_count(last.nonzero)} of "
                    f"{fmt_count(self.dense_params)} (−{cut:.1%})")
        cut = 1.0 - last.params / self.dense_params if self.dense_params else 0.0
        return (f"Parameters after the steps: {fmt_count(last.params)} of "
                f"{fmt_count(self.dense_params)} (−{cut:.1%})")

    def notes(self) -> list[str]:
        """Every step's notes, as 'Step N: …': what differs from what was asked and risks
        first, then which choice `auto` made (a one-line banner shows the first ones whole)."""
        notes = [f"{s.label.split(' · ')[0]}: {n}" for s in self.steps for n in s.notes]
        return sorted(notes, key=lambda n: " auto: " in n)  # stable: step order kept otherwise


def fmt_count(n: float) -> str:
    """1234567 -> '1.23M', 45600 -> '45.6K'."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{int(n)}"


def step_title(cfg: Any) -> str:
    """Short name of a step with its headline setting, e.g. 'Unstructured pruning 50%'."""
    entry = entry_for_config(cfg)
    words = [entry.label.split(" (")[0]]
    if isinstance(getattr(cfg, "target", None), str):
        words.append(cfg.target)
    if hasattr(cfg, "n") and hasattr(cfg, "m"):
        words.append(f"{cfg.n}:{cfg.m}")
    elif getattr(cfg, "mode", "amount") == "threshold":
        words.append(f"threshold {cfg.threshold:g}")
    elif isinstance(getattr(cfg, "amount", None), float):
        words.append(f"{cfg.amount:.0%}")
    return " ".join(words)


def step_counts(module: nn.Module, mask_targets: list[str]) -> dict[str, Any]:
    """Parameters, non-zeros and the masked layers' combined sparsity, as of now."""
    params, nonzero = count_params(module)
    sparsity = overall_sparsity(module, mask_targets) if mask_targets else 0.0
    return {"params": params, "nonzero": nonzero, "sparsity": sparsity}


def _without_data(cfg: Any) -> Any:
    """The same step with a data-free criterion (the estimate has no calibration batches)."""
    if getattr(cfg, "criterion", None) == "taylor":
        cfg = dataclasses.replace(cfg, criterion="magnitude")
    if getattr(cfg, "importance", None) in ("taylor", "auto"):
        cfg = dataclasses.replace(cfg, importance="l1")
    return cfg


def _artifact_notes(cfg: Any, entry: Any) -> list[str]:
    """What an artifact step will do, said before the run (it cannot be tried on the module)."""
    what = entry.describe(cfg) if entry.describe else entry.label
    # short: the banner shows its first note on one line at 1024 px
    return [f"{what}: made from the exported ONNX file and measured on that file"]


def estimate_steps(
    module: nn.Module,
    methods: Sequence[Any],
    example_inputs: tuple | None = None,
    task: str = "generic",
    has_data: bool | None = None,
) -> StepsEstimate:
    """Apply `methods` in order to a copy of `module`; what each step leaves (module untouched).

    `has_data`: whether the recipe has data (None: not known, e.g. while the form is edited);
    it decides what data-aware defaults resolve to in the notes."""
    try:
        work = copy.deepcopy(module)
    except Exception as exc:  # e.g. a TorchScript module that cannot be copied
        raise ValueError(f"cannot copy the model to estimate on it ({type(exc).__name__}: "
                         f"{exc})") from exc
    dense_params, dense_nonzero = count_params(work)
    refused: dict[int, str] = {}
    for fe in order_errors(list(methods)):
        refused.setdefault(step_number(fe.path) or 0, fe.message)
    steps: list[StepEstimate] = []
    mask_targets: list[str] = []
    now = {"params": dense_params, "nonzero": dense_nonzero, "sparsity": 0.0}
    for i, cfg in enumerate(methods):
        entry = entry_for_config(cfg)
        label = f"Step {i + 1} · {step_title(cfg)}"
        error = refused.get(i + 1, "") or script_step_problem(work)  # TorchScript: refused
        if not error and entry.stage == "artifact":  # works on the exported file: no change here
            steps.append(StepEstimate(label, 0, now["params"], now["nonzero"], now["sparsity"],
                                      "", list(_artifact_notes(cfg, entry)), artifact=True))  # fmt: skip
            continue
        if not error and entry.check is not None:
            error = next(iter(entry.check(cfg, work)), "")
        targeted, notes = 0, []
        if not error and callable(getattr(cfg, "notes", None)):
            notes = list(cfg.notes(work, task, has_data))  # before the step changes the model
        if not error:
            ctx = MethodContext(module=work, task=task, example_inputs=example_inputs)
            try:
                res = entry.handler(_without_data(cfg), ctx)
            except (ValueError, RuntimeError) as exc:
                error = str(exc)
            else:
                work = res.module if res.module is not None else work  # a new (smaller) model
                targeted = len(res.targets)
                if entry.effect == "masks":
                    mask_targets += [t for t in res.targets if t not in mask_targets]
                now = step_counts(work, mask_targets)
        steps.append(StepEstimate(label, targeted, now["params"], now["nonzero"],
                                  now["sparsity"], error, notes))
    return StepsEstimate(dense_params, steps, dense_nonzero)
