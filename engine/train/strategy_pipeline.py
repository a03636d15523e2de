"""Model parallel: one process, the model's transformer blocks split in order over devices.

The seed's `self.seq1.to('cuda:0'); self.seq2.to('cuda:1')` made generic: the plan
(engine.train.placement) puts each stage's blocks on its device, the embeddings on the first
and the final norm and head on the last. Forward pre-hooks move what each placed module is
called with (hidden states, masks, rotary tables: every tensor argument) to its device, so
the model's own forward runs unchanged; a hook on the model itself takes the batch to the
first stage's device and brings the output back to the batch's device (train.device), where
the labels, the loss and the loop's sums are. Backward follows the same path in reverse
(autograd records the copies). `unwrap` removes every hook and puts the whole model back on
train.device, so save, export and evaluation see the module as before.

`train.hf_device_map` hands a Hugging Face model to accelerate instead (engine.train.placement_hf).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from engine.config_fields import ConfigError, FieldError
from engine.train.placement import Placement, plan_placement, stage_of, visible_gpus
from engine.train.strategy import SingleDevice

Log = Callable[..., None]


def resolve_devices(devices: str) -> list[str]:
    """train.devices as a list ('cuda:0, cuda:1' -> ['cuda:0', 'cuda:1']); empty = every GPU."""
    listed = [d.strip() for d in devices.split(",") if d.strip()]
    return listed or visible_gpus()


def to_device(value: Any, device: torch.device) -> Any:
    """`value` with every tensor in it (inside tuples, lists and dicts) on `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, (tuple, list)):
        moved = [to_device(v, device) for v in value]
        return type(value)(moved) if type(value) in (tuple, list) else _rebuilt(value, moved)
    if isinstance(value, dict):
        if type(value) is dict:
            return {k: to_device(v, device) for k, v in value.items()}
        for k in list(value):  # a ModelOutput: its keys are also attributes, set in place
            value[k] = to_device(value[k], device)
    return value


def _rebuilt(value: Any, items: list[Any]) -> Any:
    """A named tuple (or other sequence type) built again from moved items."""
    try:
        return type(value)(*items)
    except TypeError:
        return type(value)(items)


def _move_inputs(device: torch.device) -> Callable[..., Any]:
    """A forward pre-hook (with kwargs) that moves a module's tensor arguments to `device`."""

    def hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return to_device(args, device), to_device(kwargs, device)

    return hook


def _first_tensor_device(args: Sequence[Any], kwargs: dict[str, Any]) -> torch.device | None:
    for v in (*args, *kwargs.values()):
        if isinstance(v, torch.Tensor):
            return v.device
    return None


class ModelParallel(SingleDevice):
    """Pipeline placement over train.devices (one process, the stages run one after another)."""

    name = "model_parallel"

    def __init__(self, device: torch.device, devices: str = "", split_points: Sequence[int] = (),
                 hf_device_map: bool = False, log: Log | None = None):  # fmt: skip
        self.device = device  # train.device: where the batch, the loss and the final model are
        self.devices = resolve_devices(devices)
        self.split_points = tuple(split_points)
        self.hf_device_map = hf_device_map
        self.log = log or (lambda *a, **k: None)
        self.placement: Placement | None = None
        self.hf_map: dict[str, Any] | None = None
        self._handles: list[RemovableHandle] = []

    def wrap(self, module: nn.Module) -> nn.Module:
        """Place `module` over the devices, in place (the same module object is trained)."""
        if self.hf_device_map:
            from engine.train.placement_hf import dispatch_hf

            self.hf_map = dispatch_hf(module, self.devices, self.device)
            self.log(f"model parallel: accelerate device_map {_map_summary(self.hf_map)}")
            return module
        self.placement = plan_placement(module, self.devices, self.split_points)
        self._place(module, self.placement)
        self.log(self.placement.summary())
        return module

    def _place(self, module: nn.Module, plan: Placement) -> None:
        """Move the stages and the outside modules to their devices; hook their inputs."""
        first = torch.device(plan.stages[0].device)
        module.to(first)  # everything first (the ancestors' own tensors stay there)
        blocks = module.get_submodule(plan.block_path) if plan.block_path else module
        for i, block in enumerate(blocks):
            dev = torch.device(stage_of(plan, i).device)
            block.to(dev)
            # every block, not only a stage's first: the model's forward hands each block the
            # same masks (and rotary tables) it made on another device
            self._hook(block, dev)
        for path, k in plan.units:
            unit = module.get_submodule(path)
            if any(True for _ in unit.parameters()) or any(True for _ in unit.buffers()):
                dev = torch.device(plan.stages[k].device)
                unit.to(dev)
                self._hook(unit, dev)
        self._hook_root(module, first)

    def _hook(self, sub: nn.Module, dev: torch.device) -> None:
        self._handles.append(sub.register_forward_pre_hook(_move_inputs(dev), with_kwargs=True))

    def _hook_root(self, module: nn.Module, first: torch.device) -> None:
        """The batch to the first stage; the output back to where the batch came from."""
        came_from: list[torch.device | None] = []

        def pre(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            came_from.append(_first_tensor_device(args, kwargs))
            return to_device(args, first), to_device(kwargs, first)

        def post(_m: nn.Module, _args: Any, output: Any) -> Any:
            origin = came_from.pop() if came_from else None
            return to_device(output, origin) if origin is not None else output

        self._handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        self._handles.append(module.register_forward_hook(post))

    def unwrap(self, module: nn.Module) -> None:
        """Hooks removed, the whole model on train.device again (save/export as before)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self.hf_map is not None:
            from engine.train.placement_hf import undispatch_hf

            undispatch_hf(module)
        module.to(self.device)

    def record(self) -> dict[str, Any]:
        """The card's record: devices, and per device its blocks and parameters."""
        out: dict[str, Any] = {"strategy": self.name, "world_size": 1, "devices": self.devices}
        if self.placement is not None:
            out |= self.placement.record()
        if self.hf_map is not None:
            out["hf_device_map"] = {k: str(v) for k, v in self.hf_map.items()}
        return out


def _map_summary(device_map: dict[str, Any]) -> str:
    """'12 modules on cuda:0, 9 on cuda:1' from accelerate's {module: device} map."""
    counts: dict[str, int] = {}
    for dev in device_map.values():
        name = f"cuda:{dev}" if isinstance(dev, int) else str(dev)
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} module(s) on {d}" for d, n in counts.items())


def model_parallel_problems(train: Any, module: nn.Module) -> list[FieldError]:
    """What the loaded model says about a model_parallel recipe (its block count against
    train.split_points and train.devices), checked in the load stage before the run exists."""
    if train.strategy != "model_parallel" or train.epochs == 0:
        return []
    if train.hf_device_map:
        from engine.train.placement_hf import hf_model_problem

        problem = hf_model_problem(module)
        return [FieldError("train.hf_device_map", problem)] if problem else []
    try:
        plan_placement(module, resolve_devices(train.devices), train.split_points)
    except ConfigError as exc:
        return list(exc.errors)
    return []
