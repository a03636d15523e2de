"""Measuring a sensitivity analysis's evaluation noise: paired per-batch changes, and chance.

The interpretation (which layers are within the noise, the warning, an even proposal for
them) lives in engine/sensitivity_propose.py.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from engine.sensitivity_propose import NOISE_Z


class PairedMeter:
    """Evaluates the capped batches one at a time: the metric, plus per-batch values to pair.

    Every measurement reuses the same batches, so evaluating the baseline again would give
    the same number bit for bit: repeating it measures nothing. What is uncertain is whether
    a change would hold on other samples. Each batch gives one paired difference (pruned minus
    baseline, on the same samples); their spread over sqrt(batches) is the standard error of
    the measured change. This costs no extra forward pass (the same batches, evaluated one by
    one) and, being paired, does not mistake the spread between batches (some text is just
    harder) for an effect of pruning. Units are those of `degradation`: accuracy, or loss
    (log-perplexity).
    """

    def __init__(
        self, module: nn.Module, task: str, batches: list[dict[str, torch.Tensor]], device: Any
    ):
        self.module, self.task, self.batches, self.device = module, task, batches, device
        self.key = "loss" if task == "causal-lm" else "accuracy"
        self.baseline: list[float] = []

    def measure(self) -> tuple[float, list[float]]:
        """(metric over all batches, the per-batch loss or accuracy)."""
        from engine.train.loop import evaluate

        values, weights = [], []
        for batch in self.batches:
            result = evaluate(self.module, self.task, [batch], self.device)  # type: ignore
            if result:  # a batch of padding only has nothing to score
                values.append(result[self.key])
                mask = batch["attention_mask"]
                lm = self.task == "causal-lm"
                weights.append(float(mask[:, 1:].sum()) if lm else float(batch["labels"].numel()))
        if not values:
            raise ValueError("the validation split is empty; raise data.val_fraction")
        # the same weighting evaluate() uses over all batches at once: tokens, or samples
        mean = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
        return (math.exp(min(mean, 50.0)) if self.task == "causal-lm" else mean), values

    def band(self, values: list[float]) -> float | None:
        """NOISE_Z standard errors of the paired change from the baseline; None for 1 batch."""
        if len(values) < 2 or len(values) != len(self.baseline):
            return None
        f64 = torch.float64
        diffs = torch.tensor(values, dtype=f64) - torch.tensor(self.baseline, dtype=f64)
        return NOISE_Z * float(diffs.std(unbiased=True)) / math.sqrt(len(values))

    def chance(self) -> tuple[float, float]:
        """(metric of the best constant prediction on these batches, its noise band).

        Classification: always the most frequent class; the band is NOISE_Z binomial
        standard errors of that rate over the evaluated samples (per-batch spreads over a
        few batches are too rough for this). Language model: the token frequencies of the
        batches themselves, a unigram model fitted on them, so already a bar that is easy
        to fail: band 0. A model no better than this has learnt nothing that pruning could
        take away.
        """
        if self.task == "causal-lm":
            targets = torch.cat(
                [b["input_ids"][:, 1:][b["attention_mask"][:, 1:] == 1] for b in self.batches]
            )
            p = torch.bincount(targets).double() / max(targets.numel(), 1)
            p = p[p > 0]
            return float(torch.exp(-(p * p.log()).sum())), 0.0
        labels = torch.cat([b["labels"].flatten() for b in self.batches])
        n = max(labels.numel(), 1)
        rate = float(torch.bincount(labels).max()) / n
        return rate, NOISE_Z * math.sqrt(rate * (1 - rate) / n)
