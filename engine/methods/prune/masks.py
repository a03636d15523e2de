"""Which layers a pruning step targets, and the masks that keep pruned weights at zero.

Masks ride on `torch.nn.utils.prune`: the layer keeps `weight_orig` (a parameter) and a
`weight_mask` buffer, and a forward pre-hook recomputes `weight = weight_orig * mask`.
Gradients reaching `weight_orig` through a zero mask are zero, and whatever the optimizer
does to `weight_orig` (momentum, Adam state, weight decay) never reaches `weight`, so
pruned weights stay exactly zero through fine-tuning. A schedule that changes the masks
writes the buffer in place (`set_mask`); masks are buffers, so they are in the state_dict
and a training checkpoint restores them exactly. `make_permanent` folds them in at the end.

Masks of successive steps combine: a step writes its mask with `narrow_mask`, which ANDs it
with the mask already there, so a weight removed by any step (or any schedule round) stays
removed; `alive_masks` tells a step which weights are still alive when it starts.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

# layer type names a scope can ask for -> module classes
LAYER_TYPES: dict[str, tuple[type[nn.Module], ...]] = {
    "linear": (nn.Linear,),
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d),
    "embedding": (nn.Embedding,),
}
DEFAULT_TYPES = ("linear", "conv")
# embeddings and the output head stay dense unless asked for: pruning them costs the most
# accuracy for the least size in transformers. BERT's pooler feeds the classifier alone: its
# weights are small, so a global ranking empties it first, and the model then predicts a
# constant (measured: MiniLM/BBC fell to chance at 70% global until the pooler was kept).
DEFAULT_EXCLUDE = ("*embed*", "*emb", "*lm_head*", "*classifier*", "*score", "*pooler*")
NEARLY_EMPTY = 0.95  # a layer pruned beyond this is worth a warning


def _classes(types: tuple[str, ...]) -> tuple[type[nn.Module], ...]:
    return tuple(c for t in types for c in LAYER_TYPES.get(t, ()))


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    """fnmatch against any pattern; a plain name also matches itself exactly."""
    return any(name == p or fnmatch.fnmatch(name, p) for p in patterns)


def select_targets(
    module: nn.Module,
    include: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
    types: tuple[str, ...] = DEFAULT_TYPES,
) -> list[tuple[str, nn.Module]]:
    """Layers of the given types whose names match `include` and none of `exclude`."""
    classes = _classes(types)
    return [
        (name, sub)
        for name, sub in module.named_modules()
        if name and isinstance(sub, classes) and matches(name, include) and not matches(name, exclude)
    ]


def scope_problems(
    module: nn.Module,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    types: tuple[str, ...],
) -> list[str]:
    """Why a scope selects nothing (with what names look like), or []."""
    unknown = [t for t in types if t not in LAYER_TYPES]
    if unknown:
        return [f"unknown layer type(s) {unknown}; known: {', '.join(LAYER_TYPES)}"]
    if select_targets(module, include, exclude, types):
        return []
    classes = _classes(types)
    names = [n for n, m in module.named_modules() if n and isinstance(m, classes)][:6]
    return [
        f"include={list(include)} exclude={list(exclude)} types={list(types)} match no layer; "
        f"layer names look like: {', '.join(names) or '(none of these types)'}"
    ]


def set_mask(layer: nn.Module, mask: torch.Tensor, name: str = "weight") -> None:
    """Give `layer` this mask (1 keeps, 0 prunes), replacing any mask it already has."""
    mask = mask.to(dtype=getattr(layer, name).dtype, device=getattr(layer, name).device)
    if hasattr(layer, f"{name}_mask"):
        getattr(layer, f"{name}_mask").copy_(mask)
        with torch.no_grad():  # the hook recomputes it at the next forward; keep it true now
            setattr(layer, name, getattr(layer, f"{name}_orig") * mask)
    else:
        torch_prune.custom_from_mask(layer, name, mask)


def narrow_mask(layer: nn.Module, mask: torch.Tensor, name: str = "weight") -> None:
    """AND `mask` into the layer's mask: a weight any earlier step removed is never revived."""
    old = getattr(layer, f"{name}_mask", None)
    if old is not None:
        mask = mask.to(device=old.device, dtype=old.dtype) * old
    set_mask(layer, mask, name)


def alive_masks(layers: dict[str, nn.Module]) -> dict[str, torch.Tensor | None]:
    """Per layer, which weights earlier steps left alive (None: the layer carries no mask yet)."""
    out: dict[str, torch.Tensor | None] = {}
    for n, layer in layers.items():
        buf = getattr(layer, "weight_mask", None)
        out[n] = None if buf is None else buf.detach() != 0
    return out


def count_params(module: nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters) as the next forward sees them (masks applied).

    A masked layer's parameter is `weight_orig`; its non-zeros are those of weight_orig * mask.
    Tied parameters count once, as `module.parameters()` yields them once.
    """
    effective: dict[int, torch.Tensor] = {}
    for sub in module.modules():
        mask = getattr(sub, "weight_mask", None)
        if mask is not None and hasattr(sub, "weight_orig"):
            effective[id(sub.weight_orig)] = sub.weight_orig.detach() * mask
    total = nonzero = 0
    with torch.no_grad():
        for p in module.parameters():
            total += p.numel()
            nonzero += int(torch.count_nonzero(effective.get(id(p), p.detach())))
    return total, nonzero


def current_mask(layer: nn.Module, name: str = "weight") -> torch.Tensor:
    """The layer's mask, or all ones when it has none."""
    buf = getattr(layer, f"{name}_mask", None)
    return buf if buf is not None else torch.ones_like(getattr(layer, name))


def effective_weight(layer: nn.Module) -> torch.Tensor:
    """The weight the next forward uses: weight_orig * mask when masked.

    `layer.weight` of a masked layer is only recomputed by the next forward, so right after
    a mask change or a state_dict load it can be stale.
    """
    mask = getattr(layer, "weight_mask", None)
    if mask is not None:
        return layer.weight_orig.detach() * mask
    return layer.weight.detach()


def layer_sparsity(module: nn.Module, names: list[str]) -> dict[str, float]:
    """Fraction of exact zeros in each named layer's weight."""
    mods = dict(module.named_modules())
    out = {}
    with torch.no_grad():
        for n in names:
            w = effective_weight(mods[n])
            out[n] = float((w == 0).sum().item()) / w.numel()
    return out


def overall_sparsity(module: nn.Module, names: list[str]) -> float:
    """Fraction of zeros over all the named layers' weights together."""
    mods = dict(module.named_modules())
    zeros = total = 0
    with torch.no_grad():
        for n in names:
            w = effective_weight(mods[n])
            zeros += int((w == 0).sum().item())
            total += w.numel()
    return zeros / total if total else 0.0


def make_permanent(module: nn.Module) -> int:
    """Fold every pruning mask into its weight; returns how many layers were folded."""
    count = 0
    for sub in module.modules():
        for hook in list(getattr(sub, "_forward_pre_hooks", {}).values()):
            if isinstance(hook, torch_prune.BasePruningMethod):
                torch_prune.remove(sub, hook._tensor_name)
                count += 1
    return count


def keep_masks_live(module: nn.Module) -> None:
    """Recompute masked weights that their layer's own forward never sees (idempotent).

    torch's pruning hooks recompute `weight = weight_orig * weight_mask` before the layer's
    forward, but nn.MultiheadAttention reads `out_proj.weight` without calling out_proj: its
    masked weight would stay the tensor computed once at pruning time, so the second
    training step backpropagates through a freed graph and the weight never learns.
    """
    for sub in module.modules():
        if isinstance(sub, nn.MultiheadAttention) and not getattr(sub, "_masks_live", False):
            sub.register_forward_pre_hook(_refresh_out_proj)
            sub._masks_live = True


def _refresh_out_proj(mha: nn.Module, _inputs: Any) -> None:
    for hook in list(mha.out_proj._forward_pre_hooks.values()):
        if isinstance(hook, torch_prune.BasePruningMethod):
            hook(mha.out_proj, None)


def fold_masks(cfg: object, module: nn.Module) -> None:
    """A masking step's finalize (registry): once training is over its zeros become plain
    weights, so the checkpoint and the export carry no masks."""
    make_permanent(module)
