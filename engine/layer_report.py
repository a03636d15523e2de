"""What structured steps did to each layer, for the Run page's per-layer view.

Structured pruning shrinks tensors instead of masking them, so there are no zeros to
count; the share of each layer's weights it removed tells the same story.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

REMOVED_KIND = "removed"  # LayerStats.kind of these values


def structured_removed(results: Iterable[Any], module: nn.Module) -> dict[str, float]:
    """Fraction of each layer's weights the steps that cut tensors (`results`, their
    MethodResults) removed, in module order."""
    kept: dict[str, float] = {}
    for res in results:
        # successive steps compound: each measured its layer after the previous one cut
        for name, removed in res.layer_sparsity.items():
            kept[name] = kept.get(name, 1.0) * (1.0 - float(removed))
    order = [n for n, _ in module.named_modules() if n in kept]
    order += sorted(set(kept) - set(order))
    return {n: 1.0 - kept[n] for n in order}
