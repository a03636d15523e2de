"""Text models as users write them, driven like every other text model.

The engine calls text models as module(input_ids, attention_mask) -> logits tensor. A custom
or TorchScript model whose forward takes the ids alone (forward(input_ids), or nanoGPT's
forward(idx, targets=None)), or that returns a tuple, dict or ModelOutput, is wrapped in
TextAdapter so training, evaluation and pruning run unchanged. Export keeps the adapter but
gives an ids-only model one ONNX input; save stores the inner module and records the adapter.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

MASK_NAMES = ("attention_mask", "mask", "attn_mask", "padding_mask", "src_key_padding_mask")


def logits_of(out: Any) -> Any:
    """The logits tensor in a model's output: itself, .logits, ["logits"], or the first tensor."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        if isinstance(out.get("logits"), torch.Tensor):
            return out["logits"]
        out = list(out.values())
    elif isinstance(getattr(out, "logits", None), torch.Tensor):
        return out.logits
    if isinstance(out, (tuple, list)):
        for item in out:
            if isinstance(item, torch.Tensor):
                return item
    return None


class TextAdapter(nn.Module):
    """forward(input_ids, attention_mask=None) -> logits tensor of the inner model."""

    def __init__(self, inner: nn.Module, ids_only: bool):
        super().__init__()
        self.inner = inner
        self.ids_only = ids_only  # the mask is not passed: the inner forward takes ids only

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The inner model's logits for the ids (and the mask, when it takes one)."""
        if self.ids_only or attention_mask is None:
            return logits_of(self.inner(input_ids))
        return logits_of(self.inner(input_ids, attention_mask))


def _arguments(module: nn.Module) -> list[tuple[str, bool]]:
    """(name, required) of forward's tensor arguments, self excluded; *args reads as a mask."""
    if isinstance(module, torch.jit.ScriptModule):
        args = list(module.forward.schema.arguments)[1:]  # the first is self
        return [(a.name, not a.has_default_value()) for a in args]
    out = []
    for p in inspect.signature(module.forward).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            out.append(("attention_mask", False))
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append((p.name, p.default is p.empty))
    return out


def takes_ids_only(module: nn.Module) -> bool:
    """True when forward needs one tensor and its second argument is no attention mask.

    forward(idx, targets=None) counts as ids-only: passing the mask there would be wrong.
    """
    try:
        args = _arguments(module)
    except (ValueError, TypeError, RuntimeError, AttributeError):  # no readable signature
        return False
    if len(args) < 2:
        return True
    return sum(required for _, required in args) <= 1 and args[1][0] not in MASK_NAMES


def unwrap_text_adapter(module: nn.Module) -> nn.Module:
    """The model inside a TextAdapter, or module itself."""
    return module.inner if isinstance(module, TextAdapter) else module


def has_script_module(module: nn.Module) -> bool:
    """True when module is, or holds, TorchScript (which cannot be pruned or trained here)."""
    return any(isinstance(m, torch.jit.ScriptModule) for m in module.modules())
