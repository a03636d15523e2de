"""FSDP (torch's FSDP2 `fully_shard`) and DataParallel: the other two ways to spread training.

FSDP shards every parameter, gradient and optimizer state across the ranks torchrun started
(gloo on CPU, nccl on GPUs): each transformer block is one unit (all-gathered for its forward
and backward, then freed again), the root holds the rest (embeddings, head, final norm). The
data is split like DDP's (same global batches, same agreement on cancel and pause), so the
inherited DDP plumbing serves it. `fully_shard` works in place: the parameters become
DTensors, so the optimizer is built after `wrap`, and `unwrap` turns the module back into a
plain one with full weights (rank 0's from the gathered full state dict) before save/export.

DataParallel is one process over the visible GPUs (scatter the batch, gather the outputs
each step): the form says DDP is faster; device_checks refuses it without 2+ CUDA GPUs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from engine.train.strategy import DDP, SingleDevice


def shard_units(module: nn.Module) -> list[nn.Module]:
    """What fully_shard wraps, innermost first: each transformer block, then the root."""
    from engine.methods.distill.blocks import transformer_blocks

    try:
        _, blocks = transformer_blocks(module)
    except ValueError:  # no block stack (or several): the whole model is one unit
        return [module]
    return [*blocks, module]


class FSDP(DDP):
    """Fully sharded data parallel over the process group (FSDP2, torch.distributed.fsdp)."""

    name = "fsdp"

    def wrap(self, module: nn.Module) -> nn.Module:
        """fully_shard each block then the root, in place (the same module object, sharded)."""
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        # the run's device type, not FSDP's default (CUDA whenever present, even for a CPU run)
        mesh = init_device_mesh(self.device.type, (self.world_size,))
        for unit in shard_units(module):
            fully_shard(unit, mesh=mesh)
        return module

    def no_sync(self, wrapped: nn.Module) -> contextlib.AbstractContextManager[Any]:
        """A non-final micro-batch: keep the gradients unsharded and unreduced (FSDP2's switch)."""
        return _no_gradient_sync(wrapped)

    def unwrap(self, module: nn.Module) -> None:
        """Back to a plain module with full weights, on every rank, before save and export.

        The full state dict is gathered tensor by tensor to rank 0's CPU (cpu_offload: no rank
        holds two full copies on its device). Rank 0 gets the trained weights; the other
        ranks write nothing, so they take zeros of the same shapes: their later local stages
        (evaluation) then run without collectives that rank 0 would not join.
        """
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(
            module, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        _drop_fsdp(module)
        plain: dict[str, torch.Tensor] = {}
        for name, t in module.state_dict(keep_vars=True).items():
            value = full.get(name)
            if value is None:  # rank > 0 (or a key the gather left out): shapes only
                value = torch.zeros(t.shape, dtype=t.dtype)
            plain[name] = value.to(self.device)
        _replace_tensors(module, plain)


@contextlib.contextmanager
def _no_gradient_sync(module: nn.Module) -> Iterator[None]:
    from torch.distributed.fsdp import FSDPModule

    inner = getattr(module, "_orig_mod", module)  # torch.compile keeps the module here
    if not isinstance(inner, FSDPModule):
        yield
        return
    inner.set_requires_gradient_sync(False)
    try:
        yield
    finally:
        inner.set_requires_gradient_sync(True)


def _drop_fsdp(module: nn.Module) -> None:
    """Undo fully_shard's in-place changes: its hooks and its FSDP<Class> subclasses."""
    from torch.distributed.fsdp import FSDPModule

    for sub in module.modules():
        if not isinstance(sub, FSDPModule):
            continue
        state = sub._get_fsdp_state()
        for handle in (state._pre_forward_hook_handle, state._post_forward_hook_handle):
            handle.remove()
        sub.__class__ = next(c for c in type(sub).__mro__[1:]
                             if not issubclass(c, FSDPModule))  # fmt: skip


def _replace_tensors(module: nn.Module, values: dict[str, torch.Tensor]) -> None:
    """Put plain parameters/buffers in place of the DTensors (tied weights stay tied)."""
    seen: dict[int, nn.Parameter] = {}
    for name, sub in module.named_modules():
        prefix = f"{name}." if name else ""
        for pname, p in list(sub._parameters.items()):
            if p is None:
                continue
            if id(p) not in seen:
                seen[id(p)] = nn.Parameter(values[prefix + pname], requires_grad=p.requires_grad)
            sub._parameters[pname] = seen[id(p)]
        for bname, b in list(sub._buffers.items()):
            if b is not None and prefix + bname in values:
                sub._buffers[bname] = values[prefix + bname]


class DataParallel(SingleDevice):
    """torch.nn.DataParallel: one process, the batch split over the visible GPUs each step."""

    name = "dataparallel"

    def wrap(self, module: nn.Module) -> nn.Module:
        """DataParallel(module) over every visible GPU (module on cuda:0, replicated per step)."""
        return nn.DataParallel(module.to("cuda:0"))

    def record(self) -> dict[str, Any]:
        return {"strategy": self.name, "world_size": 1, "gpus": torch.cuda.device_count()}



def fsdp_method_problem(methods: tuple[Any, ...]) -> str | None:
    """Why these steps cannot train under fsdp (train.strategy), or None.

    A masking step keeps its masks (and reads its weights: sparsity, gradual schedules)
    outside the forward, where FSDP's parameters are shards; refused before the run.
    """
    from engine.registry import _effects

    masks = [i for i, e in enumerate(_effects(methods)) if e == "masks"]
    if masks:
        return (f"fsdp cannot fine-tune the pruning masks of Step {masks[0] + 1} yet (they need "
                "each weight whole, FSDP holds shards); use strategy ddp")
    return None
