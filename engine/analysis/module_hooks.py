"""Which module is running right now: forward pre/post hooks on every module of a model.

Two measurements hang off the same stack: wall time per module (exclusive of its child
modules, so the times of all modules add up to the whole forward) and bytes moved per
module (each operator's input and output tensors, charged to the innermost module).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROOT = ""  # the model's own name in named_modules()

# ops that only relabel memory (no bytes move) although their schema is not a view
_NO_TRAFFIC = {"aten::_unsafe_view", "aten::lift_fresh", "aten::detach", "aten::empty",
               "aten::empty_like", "aten::empty_strided", "aten::new_empty"}  # fmt: skip


class ModuleTimer:
    """Exclusive seconds per module name, summed over the forwards timed while `enabled`.

    On CUDA every hook synchronises, so a module's time is its kernels' time and not only
    their launch; that adds a little to the whole, which the record's whole_ms shows.
    """

    def __init__(self, device: torch.device):
        self.enabled = False
        self._sync: Callable[[], None] = (
            torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        )
        self._stack: list[tuple[str, float, list[float]]] = []
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        self._stack.clear()
        self.exclusive = defaultdict(float)
        self.calls = defaultdict(int)

    def pre(self, name: str) -> None:
        if self.enabled:
            self._sync()
            self._stack.append((name, time.perf_counter(), [0.0]))

    def post(self, name: str) -> None:
        if not self.enabled or not self._stack or self._stack[-1][0] != name:
            return
        self._sync()
        now = time.perf_counter()
        _, t0, children = self._stack.pop()
        inclusive = now - t0
        self.exclusive[name] += inclusive - children[0]
        self.calls[name] += 1
        if self._stack:  # the parent's own time excludes this child's
            self._stack[-1][2][0] += inclusive


def _nbytes(t: torch.Tensor) -> int:
    """Bytes a tensor really spans (an expanded view is not its broadcast size)."""
    size = t.numel() * t.element_size()
    try:
        return min(size, t.untyped_storage().nbytes())
    except (RuntimeError, NotImplementedError):  # no storage (e.g. a meta or functional tensor)
        return size


class ByteCounter(TorchDispatchMode):
    """Bytes read and written by each operator, charged to the module on top of `stack`."""

    def __init__(self, stack: list[str]):
        super().__init__()
        self.stack = stack
        self.bytes: dict[str, int] = defaultdict(int)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = func.name()
        if func.is_view or name in _NO_TRAFFIC:
            return out
        if name == "aten::embedding":  # a lookup reads the rows it returns, not the whole table
            moved = 2 * _nbytes(out) + _nbytes(args[1])
        else:
            flat, _ = tree_flatten((args, kwargs or {}, out))
            moved = sum(_nbytes(t) for t in flat if isinstance(t, torch.Tensor))
        self.bytes[self.stack[-1] if self.stack else ROOT] += moved
        return out


@contextmanager
def module_hooks(model: nn.Module, on_pre: Callable[[str], None],
                 on_post: Callable[[str], None]) -> Iterator[None]:
    """Call on_pre(name) / on_post(name) around every module's forward, hooks removed after."""
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, torch.jit.ScriptModule):  # takes no hooks: its time is its parent's
            continue
        handles.append(m.register_forward_pre_hook(lambda _m, _a, n=name: on_pre(n)))
        handles.append(m.register_forward_hook(lambda _m, _a, _o, n=name: on_post(n),
                                               always_call=True))  # fmt: skip
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def bytes_per_module(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, int]:
    """Bytes moved per module name (its own operators, not its children's) in one forward."""
    stack: list[str] = []

    def pop(name: str) -> None:
        if stack and stack[-1] == name:
            stack.pop()

    counter = ByteCounter(stack)
    with module_hooks(model, stack.append, pop), torch.no_grad(), counter:
        model(*inputs)
    return dict(counter.bytes)
