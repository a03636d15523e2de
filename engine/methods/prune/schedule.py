"""When masks change during fine-tuning: one-shot, iterative rounds, or gradual (cubic).

- oneshot: the final sparsity at step 0, masks held through fine-tuning;
- iterative: k rounds of prune -> fine-tune; round i starts at step i*T/k and raises
  sparsity to s_final*(i+1)/k;
- gradual: Zhu & Gupta (2017), s_t = s_f + (s_0 - s_f) * (1 - (t - t0)/(t1 - t0))^3,
  masks updated every n steps between t0 and t1 (and at t1 exactly). Pruning early and
  fast while weights are redundant, then slowly, is what lets 70-90% sparse models keep
  their accuracy.

`SparsitySchedule` is a pure function of the step, so a resumed run recomputes the same
targets; `MaskScheduleHook` is the TrainHook that applies them and reports what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.events import LayerStats, Log, Metric, WeightHistogram
from engine.methods.base import no_event
from engine.methods.prune.masks import (
    NEARLY_EMPTY,
    effective_weight,
    layer_sparsity,
    overall_sparsity,
)

SCHEDULES = ("oneshot", "iterative", "gradual")
HIST_BINS = 40


@dataclass(frozen=True)
class SparsitySchedule:
    kind: str
    final: float
    total_steps: int
    initial: float = 0.0
    start: int = 0
    end: int | None = None  # None: 75% of training (leave time to recover after the last step)
    every: int = 10
    rounds: int = 3

    @property
    def t1(self) -> int:
        end = self.end if self.end is not None else int(0.75 * self.total_steps)
        return max(min(end, self.total_steps), self.start)

    def target_at(self, step: int) -> float:
        """Target sparsity after the update at `step` (or the last update before it)."""
        if self.kind == "oneshot" or self.total_steps <= 0:
            return self.final
        if self.kind == "iterative":
            rnd = min(self.rounds - 1, step * self.rounds // max(self.total_steps, 1))
            return self.final * (rnd + 1) / self.rounds
        t0, t1 = self.start, self.t1
        if step <= t0:
            return self.initial
        if step >= t1 or t1 == t0:
            return self.final
        frac = (step - t0) / (t1 - t0)
        return self.final + (self.initial - self.final) * (1.0 - frac) ** 3

    def update_steps(self) -> list[int]:
        """Steps (after step 0) at which masks change, in order."""
        if self.kind == "oneshot" or self.total_steps <= 0:
            return []
        if self.kind == "iterative":
            steps = {-(-i * self.total_steps // self.rounds) for i in range(1, self.rounds)}
            return sorted(s for s in steps if 0 < s <= self.total_steps)
        steps = set(range(self.start, self.t1, max(1, self.every))) | {self.t1}
        return sorted(s for s in steps if s > 0)


class LayerWatcher:
    """Emits per-layer sparsity, overall sparsity and |w| histograms of the pruned layers."""

    def __init__(self, layers: dict[str, nn.Module], module: nn.Module, emit: Callable[[Any], None]):
        self.layers = layers
        self.module = module
        self.emit = emit
        self.edges: dict[str, list[float]] = {}
        self.warned: set[str] = set()
        # nobody listens (an estimate, a test): skip the histograms, the costliest part
        self.quiet = emit is no_event

    def before(self) -> None:
        """Histograms of the dense weights; their bin edges are kept for every later one."""
        if self.quiet:
            return
        for name, layer in self.layers.items():
            logs = _log_abs(effective_weight(layer))
            if logs.numel() == 0:
                continue
            lo, hi = float(logs.min()), float(logs.max())
            hi = hi if hi > lo else lo + 1.0
            self.edges[name] = torch.linspace(lo, hi, HIST_BINS + 1).tolist()
            self._histogram(0, name, layer, "before")

    def report(self, step: int) -> float:
        """Emit the state after a mask change; returns the overall sparsity."""
        names = list(self.layers)
        overall = overall_sparsity(self.module, names)
        if self.quiet:
            return overall
        per_layer = layer_sparsity(self.module, names)
        self.emit(LayerStats(step, per_layer))
        self.emit(Metric("sparsity/overall", step, overall))
        for name, value in per_layer.items():
            if value > NEARLY_EMPTY and name not in self.warned:
                self.warned.add(name)
                self.emit(Log(f"{name} is {value:.1%} pruned: a global ranking is emptying it; "
                              "exclude it or give it an override if accuracy drops", "warning"))
        for name, layer in self.layers.items():
            if name in self.edges:
                self._histogram(step, name, layer, "now")
        return overall

    def _histogram(self, step: int, name: str, layer: nn.Module, phase: str) -> None:
        w = effective_weight(layer)
        edges = self.edges[name]
        logs = _log_abs(w).clamp(edges[0], edges[-1])
        counts = torch.histc(logs.float().cpu(), bins=HIST_BINS, min=edges[0], max=edges[-1])
        zeros = int((w == 0).sum())
        self.emit(
            WeightHistogram(step, name, tuple(edges), tuple(int(c) for c in counts), zeros, phase)
        )


def _log_abs(w: torch.Tensor) -> torch.Tensor:
    nz = w[w != 0].abs().float()
    return torch.log10(nz)


class MaskScheduleHook:
    """Raises sparsity along a schedule during fine-tuning (a TrainHook)."""

    def __init__(
        self,
        schedule: SparsitySchedule,
        apply: Callable[[float], None],
        watcher: LayerWatcher,
        log: Callable[[str], None],
    ):
        self.schedule = schedule
        self.apply = apply  # apply(target sparsity): recompute and set the masks
        self.watcher = watcher
        self.log = log
        self.pending = self.schedule.update_steps()
        self.last_step = 0

    def announce(self) -> None:
        """The whole target curve, so a plot shows where the run is going."""
        for step in [0, *self.pending]:
            self.watcher.emit(Metric("sparsity/target", step, self.schedule.target_at(step)))

    def on_step(self, step: int) -> None:
        """After optimizer step `step`: apply the next target when one is due."""
        self.last_step = step
        if not self.pending or step < self.pending[0]:
            return
        while self.pending and self.pending[0] <= step:
            self.pending.pop(0)
        target = self.schedule.target_at(step)
        self.apply(target)
        got = self.watcher.report(step)
        self.log(f"step {step}: masks updated to {got:.1%} sparsity (target {target:.1%})")

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "pending": list(self.pending), "edges": self.watcher.edges}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the schedule (the masks came with the model) and report where it stands."""
        self.last_step = int(state["last_step"])
        self.pending = [int(s) for s in state["pending"]]
        self.watcher.edges = {k: list(v) for k, v in state.get("edges", {}).items()}
        self.watcher.report(self.last_step)
