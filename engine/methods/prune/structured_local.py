"""Pruning what torch-pruning cannot do alone: GPT-2's Conv1D layers and fused q|k|v heads.

torch-pruning takes a custom pruner for layer types it does not know (`Conv1DPruner`, passed
as `customized_pruners` when the graph is built), so the dependency graph cuts a GPT-2 MLP's
c_fc/c_proj like any Linear pair. Its importances only score the layer types they know, so
sites with a Conv1D are scored here with the same formulas (sum of |w|^p, or |w * dL/dw|, over
each unit's coupled weights, averaged over its layers). A fused q|k|v projection split along
the last dimension (GPT-2's c_attn) is not followed by the graph's index mapping, so a head's
q, k and v slices and its out-projection inputs are cut here, through the same pruners.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch_pruning as tp
from torch import nn

from engine.methods.prune.structured_layouts import is_conv1d
from engine.methods.prune.structured_targets import Site


class Conv1DPruner(tp.pruner.function.BasePruningFunc):
    """torch-pruning pruner for transformers' Conv1D (weight [in, out], attributes nx, nf)."""

    TARGET_MODULES = None  # the class is matched by the graph's customized_pruners key

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        keep = sorted(set(range(layer.weight.shape[1])) - set(idxs))
        layer.weight = self._prune_parameter_and_grad(layer.weight, keep, 1)
        if layer.bias is not None:
            layer.bias = self._prune_parameter_and_grad(layer.bias, keep, 0)
        layer.nf = len(keep)  # Conv1D.forward shapes its output from nf
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        keep = sorted(set(range(layer.weight.shape[0])) - set(idxs))
        layer.weight = self._prune_parameter_and_grad(layer.weight, keep, 0)
        if isinstance(getattr(layer, "nx", None), int):
            layer.nx = len(keep)
        return layer

    def get_out_channels(self, layer: nn.Module) -> int:
        return layer.weight.shape[1]

    def get_in_channels(self, layer: nn.Module) -> int:
        return layer.weight.shape[0]


CONV1D_PRUNER = Conv1DPruner()


def custom_pruners(module: nn.Module) -> dict[type, tp.pruner.function.BasePruningFunc]:
    """customized_pruners for the graph: every Conv1D class the model uses."""
    return {type(m): CONV1D_PRUNER for m in module.modules() if is_conv1d(m)}


def _pruner(layer: nn.Module) -> tp.pruner.function.BasePruningFunc:
    return CONV1D_PRUNER if is_conv1d(layer) else tp.pruner.function.LinearPruner()


def _rows(t: torch.Tensor, layer: nn.Module, out: bool) -> torch.Tensor:
    """`t` (a weight or its grad) with one row per channel on the side being cut."""
    t = t.detach().flatten(1) if t.dim() > 2 else t.detach()
    if is_conv1d(layer):  # [in, out]
        return t.t() if out else t
    return t if out else t.t()


def local_unit_scores(site: Site, name: str) -> torch.Tensor:
    """One score per unit, from every layer the site cuts (l1, l2 or taylor; grads present)."""
    per_layer = []
    for layer, out in site.cuts:
        w = _rows(layer.weight, layer, out).float()
        if name == "taylor":
            if layer.weight.grad is None:
                raise ValueError(f"importance taylor got no gradient for {site.name}")
            score = (w * _rows(layer.weight.grad, layer, out).float()).abs().sum(1)
        else:
            score = w.abs().pow(1 if name == "l1" else 2).sum(1)
        idx = torch.tensor(site.layer_channels(layer, list(range(site.units))))
        per_layer.append(score.cpu()[idx].view(site.units, -1).mean(1))
    return torch.stack(per_layer).mean(0)


def local_cut(site: Site, unit_ids: list[int]) -> None:
    """Cut these units from every layer of a fused-attention site (q, k, v slices, out inputs)."""
    for layer, out in site.cuts:
        idxs = site.layer_channels(layer, unit_ids)
        pruner = _pruner(layer)
        (pruner.prune_out_channels if out else pruner.prune_in_channels)(layer, idxs)
