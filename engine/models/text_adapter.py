"""Text models whose forward takes input_ids only, driven like every other text model.

The engine calls text models as module(input_ids, attention_mask). A custom or TorchScript
model whose forward takes one tensor is wrapped in IdsOnlyModel so training, evaluation and
pruning run unchanged; export and save unwrap it (the ONNX file then has one input).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn


class IdsOnlyModel(nn.Module):
    """forward(input_ids, attention_mask=None) -> inner(input_ids): the mask is not used."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The inner model's output for the ids alone."""
        return self.inner(input_ids)


def forward_arity(module: nn.Module) -> tuple[int, int]:
    """(required, most) tensor arguments of module's forward; most is -1 for *args."""
    if isinstance(module, torch.jit.ScriptModule):
        args = list(module.forward.schema.arguments)[1:]  # the first is self
        required = sum(1 for a in args if not a.has_default_value())
        return required, len(args)
    params = list(inspect.signature(module.forward).parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1, -1
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    return required, len(positional)


def takes_ids_only(module: nn.Module) -> bool:
    """True when forward accepts one tensor and no second (the attention mask)."""
    try:
        _required, most = forward_arity(module)
    except (ValueError, TypeError, RuntimeError, AttributeError):  # no readable signature
        return False
    return most == 1


def unwrap_ids_only(module: nn.Module) -> nn.Module:
    """The model inside an IdsOnlyModel, or module itself."""
    return module.inner if isinstance(module, IdsOnlyModel) else module


def has_script_module(module: nn.Module) -> bool:
    """True when module is, or holds, TorchScript (which cannot be pruned or trained here)."""
    return any(isinstance(m, torch.jit.ScriptModule) for m in module.modules())
