"""train.hf_device_map: a Hugging Face model placed by accelerate instead of the split points.

accelerate (optional: `pip install accelerate`, or `pip install .[model-parallel]`) infers a
device map balanced over train.devices (`get_balanced_memory`, `infer_auto_device_map`, never
splitting a module the model lists in `_no_split_modules`) and dispatches the model with its
own hooks moving the activations. Without the package the recipe is refused before the run
(one line naming the field and the install command).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

NEEDS_ACCELERATE = ("needs the accelerate package, which is not installed: pip install "
                    "accelerate (or turn hf_device_map off to split at train.split_points)")  # fmt: skip


def accelerate_problem() -> str | None:
    """Why hf_device_map cannot run here (no accelerate), or None."""
    return NEEDS_ACCELERATE if importlib.util.find_spec("accelerate") is None else None


def hf_model(module: nn.Module) -> nn.Module | None:
    """The Hugging Face PreTrainedModel inside `module` (the engine wraps it), or None."""
    from transformers import PreTrainedModel

    return next((m for m in module.modules() if isinstance(m, PreTrainedModel)), None)


def hf_model_problem(module: nn.Module) -> str | None:
    """Why `module` cannot be placed with a device_map (not Hugging Face, no accelerate), or None."""
    problem = accelerate_problem()
    if problem:
        return problem
    if hf_model(module) is None:
        from engine.methods.distill.blocks import model_type

        return (f"is for Hugging Face models and {model_type(module)} is not one; turn it off "
                "(the split points place it)")
    return None


def _max_memory(devices: Sequence[str]) -> dict[Any, int]:
    """accelerate's max_memory over our devices only: each GPU's total memory, CPU RAM."""
    memory: dict[Any, int] = {}
    for name in devices:
        dev = torch.device(name)
        if dev.type == "cuda":
            index = dev.index if dev.index is not None else torch.cuda.current_device()
            memory[index] = torch.cuda.get_device_properties(index).total_memory
        else:
            import psutil

            memory["cpu"] = psutil.virtual_memory().available
    return memory


def dispatch_hf(module: nn.Module, devices: Sequence[str], device: torch.device) -> dict[str, Any]:
    """Dispatch the Hugging Face model inside `module` over `devices`; its device map."""
    from accelerate import dispatch_model, infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    model = hf_model(module)
    assert model is not None  # refused in the load stage (hf_model_problem)
    no_split = list(getattr(model, "_no_split_modules", None) or [])
    balanced = get_balanced_memory(model, max_memory=_max_memory(devices),
                                   no_split_module_classes=no_split)  # fmt: skip
    device_map = infer_auto_device_map(model, max_memory=balanced, no_split_module_classes=no_split)
    module.to(device)  # the wrapper's own tensors (none in the engine's wrapper) with the batch
    dispatch_model(model, device_map=device_map)
    return dict(device_map)


def undispatch_hf(module: nn.Module) -> None:
    """accelerate's hooks removed and the model movable again (dispatch_model replaces `.to`)."""
    from accelerate.hooks import remove_hook_from_submodules

    model = hf_model(module)
    if model is None:
        return
    remove_hook_from_submodules(model)
    for name in [n for n, v in vars(model).items() if callable(v) and hasattr(nn.Module, n)]:
        delattr(model, name)  # the class's own .to/.cuda again
    vars(model).pop("hf_device_map", None)
