"""TorchScript models can be measured and exported, not pruned or trained: say so before a run.

Pruning needs the Python module graph (torch-pruning traces nn.Module objects; masks hook
nn.Linear/Conv), which a compiled TorchScript module does not expose, so without this
check a run fails later with "match no layer" or "no prunable Conv channels found".
"""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.config_fields import FieldError
from engine.models.text_adapter import has_script_module

WHY = "TorchScript modules can be measured and exported but not pruned or trained"
FIX = (
    "load its Python module (model.source: torch or a variant, with model.trust and "
    "model.python_path) to optimize it, or remove the methods and set train.epochs: 0"
)


def script_step_problem(module: nn.Module) -> str:
    """The refusal for one method step on module, or "" when module is plain Python."""
    return f"{WHY}; {FIX}" if has_script_module(module) else ""


def torchscript_problems(methods: Any, epochs: int, module: nn.Module) -> list[FieldError]:
    """Every step and the training a TorchScript module cannot take, as field errors."""
    problem = script_step_problem(module)
    if not problem:
        return []
    errors = [FieldError(f"methods[{i}]", problem) for i in range(len(methods))]
    if epochs > 0:
        errors.append(FieldError("train.epochs", problem))
    return errors
