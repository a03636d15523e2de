"""Model anatomy: parameters, non-zeros, bytes and FLOPs per layer, for tables and charts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    name: str  # module name as in named_modules(), e.g. blocks.0.attn.qkv
    type: str  # class name; "(tied to X)" notes parameters shared with an earlier row
    params: int  # parameters first seen in this module (tied ones count once, at first use)
    nonzero: int
    bytes: int  # its own parameters and buffers
    flops: int  # one forward on the example inputs, including any child modules
    share: float  # params / total_params


@dataclass(frozen=True)
class ModelSummary:
    layers: tuple[LayerRow, ...]
    total_params: int
    nonzero_params: int
    total_bytes: int  # all unique parameters and buffers
    total_flops: int

    @property
    def sparsity(self) -> float:
        """Fraction of parameters that are exactly zero."""
        return 1.0 - self.nonzero_params / self.total_params if self.total_params else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping."""
        return {
            "layers": [dataclasses.asdict(row) for row in self.layers],
            "total_params": self.total_params,
            "nonzero_params": self.nonzero_params,
            "total_bytes": self.total_bytes,
            "total_flops": self.total_flops,
            "sparsity": self.sparsity,
        }


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@contextmanager
def cpu_flash_attention_counted() -> Iterator[None]:
    """torch's FLOP table without a formula for the CPU flash-attention kernel (what HF models'
    SDPA runs on CPU) gets torch's own SDPA formula while a counter is made: without it a BERT's
    or GPT-2's attention scores would read as 0 FLOPs on CPU and as counted on CUDA."""
    from torch.utils import flop_counter

    key = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if key is None or key in flop_counter.flop_registry:
        yield
        return
    flop_counter.flop_registry[key] = flop_counter.sdpa_flop  # registered wrapped for shapes
    try:
        yield
    finally:
        flop_counter.flop_registry.pop(key, None)


def count_flops(
    module: nn.Module, example_inputs: tuple[torch.Tensor, ...]
) -> tuple[int, dict[str, int]]:
    """(total, per-module-name) FLOPs of one forward; (0, {}) when they cannot be counted."""
    from torch.utils.flop_counter import FlopCounterMode

    with cpu_flash_attention_counted():  # the mode copies torch's FLOP table when made
        counter = FlopCounterMode(display=False)
    # eval mode so BatchNorm running stats are not updated by this measurement
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with counter, torch.no_grad():
            module(*example_inputs)
    except Exception:  # TorchScript or exotic ops: FLOPs are a nicety, never a failure
        return 0, {}
    finally:
        for m, training in modes.items():
            m.training = training
    per_module: dict[str, int] = {}
    root = type(module).__name__
    for key, ops in counter.get_flop_counts().items():
        # keys are "Global", the root class name, and "<RootClass>.<module name>"
        if key == "Global":
            continue
        name = "" if key == root else key[len(root) + 1 :] if key.startswith(root + ".") else key
        per_module[name] = int(sum(ops.values()))
    return int(counter.get_total_flops()), per_module


def summarize(module: nn.Module, example_inputs: tuple[torch.Tensor, ...]) -> ModelSummary:
    """Per-layer rows for every module that owns parameters, plus model totals."""
    total_flops, flops = count_flops(module, example_inputs)
    first_owner: dict[int, str] = {}
    rows_raw: list[tuple[str, str, int, int, int]] = []
    for name, m in module.named_modules():
        params = list(m.named_parameters(recurse=False))
        if not params:
            continue
        count = nonzero = size = 0
        tied_to: list[str] = []
        for pname, p in params:
            key = p.data_ptr() if p.numel() else id(p)
            if key in first_owner:
                tied_to.append(first_owner[key])
                continue
            first_owner[key] = f"{name}.{pname}" if name else pname
            count += p.numel()
            nonzero += int(torch.count_nonzero(p.detach()))
            size += _nbytes(p)
        size += sum(_nbytes(b) for b in m.buffers(recurse=False))
        kind = type(m).__name__
        if tied_to:
            kind += f" (tied to {', '.join(tied_to)})"
        rows_raw.append((name, kind, count, nonzero, size))
    total = sum(r[2] for r in rows_raw)
    seen: set[int] = set()
    total_bytes = 0
    for t in [*module.parameters(), *module.buffers()]:
        key = t.data_ptr() if t.numel() else id(t)
        if key not in seen:
            seen.add(key)
            total_bytes += _nbytes(t)
    rows = tuple(
        LayerRow(name, kind, count, nz, size, flops.get(name, 0), count / total if total else 0.0)
        for name, kind, count, nz, size in rows_raw
    )
    return ModelSummary(
        layers=rows,
        total_params=total,
        nonzero_params=sum(r.nonzero for r in rows),
        total_bytes=total_bytes,
        total_flops=total_flops,
    )
