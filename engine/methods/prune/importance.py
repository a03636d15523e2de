"""How much each weight matters: the scores pruning removes the lowest of.

- magnitude: |w| (L1), the classic baseline that is hard to beat after fine-tuning;
- random: a seeded uniform score, the baseline any criterion must beat;
- taylor: first-order Taylor saliency |w * dL/dw| summed over a few calibration batches
  (Molchanov et al. 2019): the loss change if the weight were removed.

Already-pruned weights (zero) score zero under magnitude and taylor, so masks only grow.
Weights an earlier step's mask removed score -inf (`among_alive`): a step's amount is a
fraction of the weights still alive when it runs (torch.nn.utils.prune's PruningContainer
rule), and the counting helpers below take every -inf weight first, on top of that amount.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.methods.prune.masks import effective_weight

CRITERIA = ("magnitude", "random", "taylor")


def taylor_saliency(
    module: nn.Module,
    layers: dict[str, nn.Module],
    task: str,
    data: object,
    batches: int,
    batch_size: int,
    device: torch.device | None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """|w * dL/dw| per weight, accumulated over `batches` training batches."""
    from engine.train.forward import forward_loss, to_device
    from engine.train.loop import make_loader

    if data is None or getattr(data, "train", None) is None:
        raise ValueError(
            "criterion taylor needs data to compute gradients: set data.source, or use "
            "criterion magnitude"
        )
    device = device or next(module.parameters()).device
    scores = {n: torch.zeros_like(effective_weight(m)) for n, m in layers.items()}
    was_training = module.training
    module.eval()  # no dropout: saliency should not depend on which units dropped
    loader = make_loader(data.train, batch_size, True, seed)
    seen = 0
    for batch in loader:
        if seen >= batches:
            break
        batch = to_device(batch, device)
        module.zero_grad(set_to_none=True)
        forward_loss(module, batch, task)[0].backward()
        for n, m in layers.items():
            param = m.weight_orig if hasattr(m, "weight_orig") else m.weight
            if param.grad is not None:
                scores[n] += (effective_weight(m) * param.grad.detach()).abs()
        seen += 1
    module.zero_grad(set_to_none=True)
    module.train(was_training)
    if seen == 0:
        raise ValueError("criterion taylor got no calibration batch: the training split is empty")
    return scores


def layer_scores(
    criterion: str,
    layers: dict[str, nn.Module],
    seed: int = 0,
    taylor: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Score of every weight of every layer under `criterion` (higher = keep)."""
    if criterion == "magnitude":
        return {n: effective_weight(m).abs().float() for n, m in layers.items()}
    if criterion == "random":
        gen = torch.Generator().manual_seed(seed)
        out = {}
        for n, m in layers.items():
            w = effective_weight(m)
            score = torch.rand(w.shape, generator=gen).to(w.device) + 1e-6
            out[n] = score * (w != 0)  # already-pruned weights stay pruned
        return out
    if criterion == "taylor":
        if taylor is None:
            raise ValueError("taylor scores need calibration gradients (taylor_saliency)")
        return {n: taylor[n].float() for n in layers}
    raise ValueError(f"unknown criterion {criterion!r}; known: {', '.join(CRITERIA)}")


def among_alive(scores: torch.Tensor, alive: torch.Tensor | None) -> torch.Tensor:
    """`scores` with the weights an earlier mask removed set to -inf (they stay removed)."""
    if alive is None:
        return scores
    return scores.masked_fill(~alive.to(device=scores.device, dtype=torch.bool), float("-inf"))


def dead_count(scores: torch.Tensor) -> int:
    """Weights already removed by an earlier step (scored -inf by `among_alive`)."""
    return int(torch.isneginf(scores).sum())


def mask_fraction(scores: torch.Tensor, amount: float) -> torch.Tensor:
    """Zero the already-removed weights plus `amount` of the alive ones (lowest scores)."""
    dead = dead_count(scores)
    return mask_lowest(scores, dead + int(round(amount * (scores.numel() - dead))))


def mask_lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """A 0/1 mask that zeroes exactly the `k` lowest scores (ties broken by position)."""
    mask = torch.ones_like(scores, dtype=torch.float32)
    if k <= 0:
        return mask
    flat = mask.view(-1)
    idx = torch.topk(scores.reshape(-1), k, largest=False, sorted=False).indices
    flat[idx] = 0.0
    return mask


def global_masks(scores: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """One ranking over all layers: the lowest `amount` of all alive weights together go."""
    if not scores:
        return {}
    names = list(scores)
    flat = torch.cat([scores[n].reshape(-1).cpu() for n in names])
    all_mask = mask_fraction(flat, amount)
    out, start = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = all_mask[start : start + size].view_as(scores[n]).to(scores[n].device)
        start += size
    return out
