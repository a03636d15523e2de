"""What every method handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass
class MethodContext:
    module: nn.Module  # the model being optimized, modified in place
    task: str  # causal-lm | classification | generic
    log: Callable[[str], None] = lambda message: None
    data: Any = None  # engine.data.DataBundle when the recipe has data (for data-aware methods)


@dataclass
class MethodResult:
    targets: list[str] = field(default_factory=list)  # layers the method changed
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
