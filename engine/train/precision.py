"""Numeric precision of the training step: fp32, fp16 with a gradient scaler, bf16 autocast.

After Lightning Fabric's precision plugins (plugins/precision/amp.py): the loop never tests
the precision itself, it runs the forward under `autocast()`, calls `backward(loss)` and
`step(optimizer, params, clip, want_norm)`. Weights and optimizer state stay float32 in every
mode (mixed precision): autocast runs matmuls in half precision, reductions in float32.

Which device can do what is decided once, before a run (engine.train.device_checks, called
from TrainConfig.extra_checks), so a recipe the device cannot train is refused next to the field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.train.device_checks import precision_problem

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class StepInfo:
    """What one optimizer step did: the gradient norm before clipping (a device tensor, None
    when it was not computed), the fp16 loss scale the step used, and whether it was skipped
    (fp16: inf/nan gradients, the scaler lowers its scale and the weights stay)."""

    grad_norm: torch.Tensor | None = None
    loss_scale: float | None = None
    skipped: bool = False


def grad_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """L2 norm of all gradients together, on their device (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads, 2.0)


class Precision:
    """fp32 (plain), bf16 (autocast, no scaler) or fp16 (autocast and a GradScaler)."""

    def __init__(self, name: str, device: torch.device):
        if name not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
        problem = precision_problem(name, device.type)
        if problem:
            raise ValueError(f"train.precision: {problem}")
        self.name = name
        self.device_type = device.type
        self.dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(name)
        # fp16's narrow range underflows small gradients: the scaler multiplies the loss up
        # and divides the gradients back before the step (skipping it on inf/nan)
        self.scaler = torch.amp.GradScaler(self.device_type) if name == "fp16" else None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The forward's context: autocast to the half dtype, nothing at fp32."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def backward(self, loss: torch.Tensor) -> None:
        """loss.backward(), through the scaler at fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(
        self, optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor],
        clip: float | None = None, want_norm: bool = False,
    ) -> StepInfo:  # fmt: skip
        """Unscale (fp16), clip to `clip` (the norm before clipping is returned), step.

        Without clipping the norm is computed only when `want_norm` (log steps): it costs a
        pass over every gradient.
        """
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        norm = None
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
        elif want_norm:
            norm = grad_norm(params)
        if self.scaler is None:
            optimizer.step()
            return StepInfo(norm)
        scale = self.scaler.get_scale()  # a host sync, fp16 only: tells a skipped step apart
        self.scaler.step(optimizer)
        self.scaler.update()
        return StepInfo(norm, scale, self.scaler.get_scale() < scale)

    def loss_scale(self) -> float | None:
        """The fp16 scaler's current scale (None at fp32/bf16)."""
        return self.scaler.get_scale() if self.scaler is not None else None

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state for the resumable training state ({} without a scaler)."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the scaler (a state written without one leaves it as new)."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)

