"""The sensitivity scan itself: each layer pruned alone at each level, measured, put back.

Called by engine.sensitivity.analyze_sensitivity (under torch.no_grad) once the model, its
validation batches and the paired meter are ready.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine.data import DataBundle

Curves = dict[str, list[tuple[float, float]]]
Bands = dict[str, list[float | None]]


def prune_lowest(weight: nn.Parameter, original: torch.Tensor, level: float) -> None:
    """Set `weight` to `original` with exactly round(level * numel) smallest-|w| entries zeroed."""
    k = int(round(level * original.numel()))
    pruned = original.flatten().clone()
    if k > 0:
        # topk picks exactly k indices even when magnitudes tie, unlike a threshold
        idx = torch.topk(original.abs().flatten(), k, largest=False, sorted=False).indices
        pruned[idx] = 0
    weight.copy_(pruned.view_as(original))


def val_batches(
    data: DataBundle, batch_size: int, eval_batches: int | None, device: torch.device
) -> list[dict[str, torch.Tensor]]:
    """The first `eval_batches` validation batches (all when None), collated and moved once."""
    from engine.train.loop import make_loader

    # collate and move the capped validation batches once: every evaluation reuses them
    loader = make_loader(data.val, batch_size, False, 0)
    batches = []
    for i, batch in enumerate(loader):
        if eval_batches is not None and i >= eval_batches:
            break
        batches.append({k: v.to(device) for k, v in batch.items()})
    return batches


def scan_layers(
    mods: dict[str, nn.Module],
    names: list[str],
    levels: tuple[float, ...],
    measure: Callable[[], tuple[float, list[float]]],
    band: Callable[[list[float]], Any],
    report: Callable[[float, str], None],
) -> tuple[Curves, Bands, dict[str, int]]:
    """(curves, noise bands, layer sizes): every layer pruned alone at every level, then restored."""
    total = 1 + len(names) * len(levels)
    curves: Curves = {}
    bands: Bands = {}
    sizes: dict[str, int] = {}
    done = 1  # the baseline was the first measurement
    for name in names:
        weight = mods[name].weight
        original = weight.detach().clone()  # the exact bits to put back
        sizes[name] = original.numel()
        curves[name], bands[name] = [], []
        try:
            for level in levels:
                report(done / total, f"{name} at {level:.0%}")
                prune_lowest(weight, original, level)
                value, per_batch = measure()
                curves[name].append((level, value))
                bands[name].append(band(per_batch))
                done += 1
        finally:
            weight.copy_(original)  # also on cancel or error: the model leaves as it came
    return curves, bands, sizes
