"""Loading weights into a freshly built architecture, including pruned (reshaped) weights.

Structured pruning shrinks Linear/Embedding/LayerNorm tensors and module attributes such as
`out_features` or an attention module's head count. A rebuilt architecture has the original
sizes, so before loading we resize its tensors to the saved shapes and restore the saved
simple attributes; then the forward pass matches the pruned model exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.models.types import ModelLoadError

_SIMPLE = (bool, int, float, str)


def collapse_reparametrizations(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold torch.nn.utils.prune (`w_orig` * `w_mask`) and parametrize keys into plain weights."""
    out = dict(state)
    for key in [k for k in state if k.endswith("_orig")]:
        base = key[: -len("_orig")]
        if base + "_mask" in state:
            out[base] = state[key] * state[base + "_mask"]
            del out[key], out[base + "_mask"]
    for key in [k for k in out if ".parametrizations." in k and k.endswith(".original")]:
        head, rest = key.split(".parametrizations.", 1)
        out[f"{head}.{rest[: -len('.original')]}"] = out.pop(key)
    return out


def module_attrs(module: nn.Module) -> dict[str, dict[str, Any]]:
    """Simple (JSON-able) instance attributes of every submodule, e.g. in_features, n_head."""
    attrs: dict[str, dict[str, Any]] = {}
    for name, m in module.named_modules():
        own = {}
        for key, value in vars(m).items():
            if key.startswith("_") or key == "training":
                continue
            if isinstance(value, _SIMPLE) or (
                isinstance(value, tuple) and all(isinstance(v, int) for v in value)
            ):
                own[key] = list(value) if isinstance(value, tuple) else value
        if own:
            attrs[name] = own
    return attrs


def restore_module_attrs(module: nn.Module, attrs: dict[str, dict[str, Any]]) -> None:
    """Set saved simple attributes back on submodules where they differ (pruned sizes)."""
    modules = dict(module.named_modules())
    for name, own in attrs.items():
        m = modules.get(name)
        if m is None:
            continue
        for key, value in own.items():
            if key not in vars(m):
                continue
            current = vars(m)[key]
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            if current != value:
                setattr(m, key, value)


def _owner(module: nn.Module, name: str) -> tuple[nn.Module, str] | None:
    """The submodule holding a state-dict entry and the entry's local name."""
    path, _, leaf = name.rpartition(".")
    try:
        return module.get_submodule(path) if path else module, leaf
    except AttributeError:
        return None


def _sync_size_attrs(m: nn.Module) -> None:
    """Keep a resized layer's size attributes consistent with its new weight."""
    w = getattr(m, "weight", None)
    if not isinstance(w, torch.Tensor):
        return
    if isinstance(m, nn.Linear):
        m.out_features, m.in_features = w.shape
    elif isinstance(m, nn.Embedding):
        m.num_embeddings, m.embedding_dim = w.shape
    elif isinstance(m, nn.LayerNorm):
        m.normalized_shape = tuple(w.shape)
    elif isinstance(m, nn.modules.conv._ConvNd):
        m.out_channels = w.shape[0]
        m.in_channels = w.shape[1] * m.groups
    elif isinstance(m, nn.modules.batchnorm._NormBase):
        m.num_features = w.shape[0]


def fit_to_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Resize parameters/buffers whose saved shape differs; tied parameters stay tied."""
    current = module.state_dict(keep_vars=True)
    replaced: dict[int, torch.Tensor] = {}
    for name, saved in state.items():
        now = current.get(name)
        if now is None or tuple(now.shape) == tuple(saved.shape):
            continue
        found = _owner(module, name)
        if found is None:
            continue
        owner, leaf = found
        key = id(now)
        if key not in replaced:
            fresh = torch.empty(saved.shape, dtype=now.dtype, device=now.device)
            if isinstance(now, nn.Parameter):
                fresh = nn.Parameter(fresh, requires_grad=now.requires_grad)
            replaced[key] = fresh
        # every name sharing this tensor (tied weights) gets the same new tensor
        for other, tensor in current.items():
            if id(tensor) == key:
                o = _owner(module, other)
                if o is not None:
                    setattr(o[0], o[1], replaced[key])
                    _sync_size_attrs(o[0])
        setattr(owner, leaf, replaced[key])
        _sync_size_attrs(owner)


def load_weights(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    where: str,
    attrs: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Load state into module (resizing pruned layers); one-line error on key mismatches."""
    state = collapse_reparametrizations(state)
    if attrs:
        restore_module_attrs(module, attrs)
    fit_to_state_dict(module, state)
    result = module.load_state_dict(state, strict=False)
    params = module.state_dict(keep_vars=True)
    loaded_ids = {id(params[k]) for k in state if k in params}
    # a missing key is fine when it is tied to (the same tensor as) one that was loaded
    missing = [k for k in result.missing_keys if id(params.get(k)) not in loaded_ids]
    unexpected = list(result.unexpected_keys)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        raise ModelLoadError(
            f"the weights in {where} do not match the architecture ({'; '.join(parts)}); "
            "check model.architecture"
        )


def _few(names: list[str], n: int = 3) -> str:
    """First few names, with a count of the rest."""
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_finite_weights(module: nn.Module, where: str) -> None:
    """Refuse a model whose parameters hold NaN or inf: nothing trained or pruned from it is sound."""
    bad: list[str] = []
    count = 0
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.is_floating_point() and not bool(torch.isfinite(p).all()):
                bad.append(name)
                count += int((~torch.isfinite(p)).sum())
    if bad:
        raise ModelLoadError(
            f"the model from {where} has {count:,} NaN/inf weights (in {_few(bad)}); the file is "
            "damaged or was saved after training diverged: load a healthy checkpoint",
            "model.path",
        )
