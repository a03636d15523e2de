"""DeepSpeed ZeRO (stage 1/2/3, optional CPU offload): the optional `deepspeed` extra.

DeepSpeed's engine owns what the loop's Precision does for the other strategies: backward
(loss scaling at fp16), gradient accumulation, clipping and the optimizer step. So the loop
stays as it is: `attach(stepper)`, called once the optimizer exists, hands the stepper's
module and optimizer to `deepspeed.initialize` and puts the engine in their place (the module
becomes the engine, the precision a `DeepSpeedSteps` that calls `engine.backward` /
`engine.step`). The loop's AdamW and learning-rate schedule stay the client optimizer and
schedule, so a deepspeed run follows the same schedule as a single-device one.

Accumulation: the stepper already divides each micro-batch's loss by the group's size (a
short last group of an epoch included), so backward runs with scale_wrt_gas=False, and
`no_sync` (a non-final micro-batch) tells the engine it is not at an accumulation boundary.

Processes: under torchrun like ddp (the CLI starts the process group from torchrun's
environment; DeepSpeed joins it). A recipe run in one plain process starts a world of one
itself: ZeRO-2 with offload on one GPU is a real use. `unwrap` gathers each parameter's full
fp32 value (ZeRO keeps them as partitions, stage 3 also the half-precision weights), removes
DeepSpeed's hooks and leaves a plain float module on every rank for save and export.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from engine.train.deepspeed_config import deepspeed_config
from engine.train.precision import Precision, StepInfo
from engine.train.strategy import DDP
from engine.train.strategy_fsdp import _replace_tensors
from engine.train.train_config import TrainConfig


def start_world_of_one(device: torch.device) -> None:
    """A process group of this process alone (a deepspeed recipe run without torchrun)."""
    if dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)


class DeepSpeed(DDP):
    """ZeRO data parallel through DeepSpeed's engine over the run's process group."""

    name = "deepspeed"

    def __init__(self, device: torch.device, cfg: TrainConfig):
        start_world_of_one(device)
        super().__init__(device)
        # DeepSpeed reads LOCAL_RANK (torchrun sets it; a world of one started here does not)
        os.environ.setdefault("LOCAL_RANK", str(self.local_rank))
        self.cfg = cfg
        self.config = deepspeed_config(cfg, device.type)
        self.engine: Any = None
        self._dtypes: dict[str, torch.dtype] = {}
        self._frozen: dict[str, torch.Tensor] = {}

    def wrap(self, module: nn.Module) -> nn.Module:
        """Nothing yet: DeepSpeed wraps model and optimizer together, in `attach`."""
        # DeepSpeed casts the module to bf16/fp16: `unwrap` puts each tensor's dtype back
        self._dtypes = {k: v.dtype for k, v in module.state_dict(keep_vars=True).items()}
        # frozen weights get no fp32 master copy: keep them as they are (not rounded to 16 bits)
        self._frozen = {k: p.detach().to("cpu", copy=True)
                        for k, p in module.named_parameters() if not p.requires_grad}  # fmt: skip
        return module

    def attach(self, stepper: Any) -> None:
        """deepspeed.initialize(module, optimizer): the stepper trains through the engine."""
        import deepspeed

        if stepper.owned:
            raise ValueError("train.strategy: deepspeed cannot train an objective's own "
                             "parameters (distillation's projections) yet; use ddp")
        _forget_stale_world_group()
        engine, optimizer, _, _ = deepspeed.initialize(
            model=stepper.module, optimizer=stepper.optimizer, config=self.config,
            dist_init_required=False,
        )  # fmt: skip
        engine.set_gradient_accumulation_boundary(True)
        self.engine = engine
        stepper.module = engine
        # its zero_grad, not the client AdamW's: that one would drop the fp32 partitions'
        # gradient buffers an offloaded ZeRO-1/2 keeps between steps
        stepper.optimizer = optimizer
        stepper.precision = DeepSpeedSteps(engine, self.cfg.precision)

    def no_sync(self, wrapped: nn.Module) -> contextlib.AbstractContextManager[Any]:
        """A non-final micro-batch: not an accumulation boundary (no reduction, no step)."""
        return _not_a_boundary(self.engine)

    def average_grads(self, params: Sequence[torch.Tensor]) -> None:
        return None  # no parameters outside the engine (refused in attach)

    def unwrap(self, module: nn.Module) -> None:
        """Full fp32 weights in a plain module on every rank; DeepSpeed's hooks removed."""
        if self.engine is None:
            return
        from deepspeed.utils import safe_get_full_fp32_param

        full: dict[str, torch.Tensor] = {}
        for name, p in module.named_parameters():
            value = safe_get_full_fp32_param(p) if p.requires_grad else self._frozen.get(name)
            if value is None:  # no fp32 copy (not expected): gather the weight itself (stage 3)
                value = _gathered(p)
            full[name] = value.detach().clone()
        for name, b in module.named_buffers():
            full[name] = b.detach().clone()
        self.engine.destroy()  # stage 3: its forward hooks and gradient hooks go
        for handle in (self.engine.module_forward_pre_hook, self.engine.module_forward_post_hook):
            if handle is not None:
                handle.remove()
        plain = {k: v.to(self.device, self._dtypes.get(k, v.dtype)) for k, v in full.items()}
        _replace_tensors(module, plain)
        self.engine = None

    def record(self) -> dict[str, Any]:
        """The card's record: ZeRO stage, offload, and the config DeepSpeed ran with."""
        return {"strategy": self.name, "world_size": self.world_size,
                "zero_stage": self.cfg.deepspeed_stage, "offload": self.cfg.deepspeed_offload,
                "deepspeed_config": self.config}  # fmt: skip


def _forget_stale_world_group() -> None:
    """DeepSpeed keeps a clone of the world group from its first use; a process group that was
    destroyed and started again since (a second run in this process) makes that clone stale."""
    from deepspeed.utils import groups

    if groups._WORLD_GROUP is None:
        return
    try:
        dist.get_process_group_ranks(groups._WORLD_GROUP)
    except (KeyError, ValueError, RuntimeError):  # not a group of the current process group
        groups._WORLD_GROUP = None


def _gathered(p: nn.Parameter) -> torch.Tensor:
    """The whole parameter (stage 3 holds a partition; elsewhere p itself)."""
    if not hasattr(p, "ds_id"):
        return p.data
    import deepspeed

    with deepspeed.zero.GatheredParameters([p], modifier_rank=None):
        return p.data.clone()


@contextlib.contextmanager
def _not_a_boundary(engine: Any) -> Iterator[None]:
    engine.set_gradient_accumulation_boundary(False)
    try:
        yield
    finally:
        engine.set_gradient_accumulation_boundary(True)


class DeepSpeedSteps(Precision):
    """The stepper's precision under DeepSpeed: the engine's backward and step.

    No autocast: DeepSpeed casts the module itself (bf16/fp16 weights, fp32 master copies in
    the optimizer). Clipping is the config's gradient_clipping; the norm reported is the
    engine's global norm before clipping; at fp16 the engine's dynamic loss scale and its
    skipped (overflow) steps.
    """

    def __init__(self, engine: Any, name: str):
        self.engine, self.name = engine, name
        self.device_type = engine.device.type if hasattr(engine, "device") else "cuda"
        self.dtype = None
        self.scaler = None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        yield

    def backward(self, loss: torch.Tensor) -> None:
        # the stepper has divided the loss by its micro-batches already
        self.engine.backward(loss, scale_wrt_gas=False)

    def step(
        self, optimizer: Any, params: Sequence[torch.Tensor],
        clip: float | None = None, want_norm: bool = False,
    ) -> StepInfo:  # fmt: skip
        """engine.step(): reduce, unscale, clip, optimizer step (skipped on an fp16 overflow)."""
        skipped_before = self.engine.skipped_steps
        scale = self.loss_scale()
        self.engine.step()
        norm = self.engine.get_global_grad_norm() if (clip is not None or want_norm) else None
        if norm is not None and not isinstance(norm, torch.Tensor):
            norm = torch.tensor(float(norm))
        return StepInfo(norm, scale, self.engine.skipped_steps > skipped_before)

    def loss_scale(self) -> float | None:
        """The fp16 dynamic loss scale (None at fp32/bf16)."""
        if self.name != "fp16":
            return None
        return float(getattr(self.engine.optimizer, "loss_scale", 0.0) or 0.0) or None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
