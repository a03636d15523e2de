"""The PyTorch side of a profile: measured time per layer and per operator type, next to FLOPs.

Time per layer: forward hooks on every module time it exclusive of its child modules, so
the layers' times add up to the whole forward (a container's "own ops", e.g. attention's
score matmuls and softmax between its projections, get a row of their own). Plain forwards
are timed in between (same load, same batch) for the record's whole_ms: the two agree when
the hooks cost little, which is how a reader knows the per-layer split is trustworthy.
Per operator type: torch.profiler's key_averages (self time, record_shapes off).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine.analysis.module_hooks import ROOT, ModuleTimer, bytes_per_module, module_hooks
from engine.analysis.roofline import layer_row

TOP_LEVEL = "(top level)"  # how the model's own operators (outside any child module) are named


def device_of(module: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without any)."""
    p = next(iter(module.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def time_layers(model: nn.Module, inputs: tuple[torch.Tensor, ...], runs: int,
                checkpoint: Callable[[], None] = lambda: None) -> tuple[dict[str, float], float]:
    """(exclusive ms per module name, whole-forward ms): plain and hooked forwards interleaved,
    each side the mean of its faster half of `runs`."""
    device = device_of(model)
    timer = ModuleTimer(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    per_run: list[dict[str, float]] = []
    whole: list[float] = []
    with torch.inference_mode():
        model(*inputs)  # warm-up: first-call allocations and lazy init are not the model's time
        for _ in range(max(1, runs)):
            checkpoint()
            sync()
            t0 = time.perf_counter()
            model(*inputs)  # without hooks: even idle ones slow every module call a little
            sync()
            whole.append((time.perf_counter() - t0) * 1e3)
            timer.reset()
            with module_hooks(model, timer.pre, timer.post):
                timer.enabled = True
                t0 = time.perf_counter()
                model(*inputs)
                seconds = time.perf_counter() - t0
                timer.enabled = False
            # a TorchScript model takes no hooks: all of its time is the top level's
            per_run.append({k: v * 1e3 for k, v in (timer.exclusive or {ROOT: seconds}).items()})
    # the faster half of the runs on both sides: a run another process interrupted is
    # dropped whole, so the layers' times still add up (a median per layer would not: it
    # drops each layer's interruptions separately and the sum falls below the whole's)
    kept = _faster_half([sum(run.values()) for run in per_run])
    names = {n for run in per_run for n in run}
    layers = {n: statistics.fmean(per_run[i].get(n, 0.0) for i in kept) for n in names}
    return layers, statistics.fmean(whole[i] for i in _faster_half(whole))


def _faster_half(totals: list[float]) -> list[int]:
    """Indices of the runs at or below the median total (at least one)."""
    cut = statistics.median(totals)
    return [i for i, t in enumerate(totals) if t <= cut] or [0]


def exclusive_flops(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[int, dict[str, int]]:
    """(total FLOPs, FLOPs per module name of its own operators) from summary.count_flops."""
    from engine.models.summary import count_flops

    total, inclusive = count_flops(model, inputs)  # CPU flash attention counted there too
    own = {name: inclusive.get(name, 0) for name, _ in model.named_modules()}
    own[ROOT] = total  # FlopCounterMode's root entry, or every FLOP when it has none
    for name, flops in inclusive.items():
        if name == ROOT:
            continue
        # charged to the nearest ancestor that ran: a ModuleList is never called itself
        parent = name
        while parent != ROOT:
            parent = parent.rsplit(".", 1)[0] if "." in parent else ROOT
            if parent in inclusive or parent == ROOT:
                break
        own[parent] = own.get(parent, 0) - flops
    return total, {n: max(0, f) for n, f in own.items()}


def _fold_trivial(model: nn.Module, times: dict[str, float], flops: dict[str, int],
                  moved: dict[str, int]) -> dict[str, float]:
    """Times with pass-through containers (no operators of their own) folded into their parent.

    Their measured time is only the Python between their children's calls; a row for each
    would bury the layers that matter without changing any sum.
    """
    times = dict(times)
    leaves = {n for n, m in model.named_modules() if not any(True for _ in m.children())}
    for name in sorted(times, key=lambda n: -n.count(".") if n else 1):
        if name == ROOT or name in leaves or flops.get(name) or moved.get(name):
            continue
        parent = name.rsplit(".", 1)[0] if "." in name else ROOT
        while parent not in times and parent != ROOT:
            parent = parent.rsplit(".", 1)[0] if "." in parent else ROOT
        times[parent] = times.get(parent, 0.0) + times.pop(name)
    return times


def layer_rows(model: nn.Module, inputs: tuple[torch.Tensor, ...], runs: int,
               ridge: float | None, checkpoint: Callable[[], None] = lambda: None,
               ) -> dict[str, Any]:
    """The record's layers (by time), whole_ms, and the model's total FLOPs at these inputs."""
    total_flops, flops = exclusive_flops(model, inputs)
    moved = bytes_per_module(model, inputs)
    checkpoint()
    times, whole_ms = time_layers(model, inputs, runs, checkpoint)
    times = _fold_trivial(model, times, flops, moved)
    total_ms = sum(times.values())
    modules = dict(model.named_modules())
    rows = []
    for name, ms in times.items():
        m = modules.get(name)
        kind = type(m).__name__ if m is not None else "?"
        if isinstance(m, torch.jit.ScriptModule):
            kind += " (TorchScript: no per-layer split)"
        elif m is not None and any(True for _ in m.children()):
            kind += " (own ops)"
        rows.append(layer_row(name or TOP_LEVEL, kind, flops.get(name, 0), moved.get(name, 0),
                              ms, total_ms, ridge))  # fmt: skip
    rows.sort(key=lambda r: -r["time_ms"])
    return {"layers": rows, "whole_ms": whole_ms, "layers_ms": total_ms, "flops": total_flops}


def op_types(model: nn.Module, inputs: tuple[torch.Tensor, ...], runs: int) -> list[dict[str, Any]]:
    """Self time per operator type per forward (torch.profiler's key_averages), by time."""
    from torch.profiler import ProfilerActivity

    from engine.analysis.quiet_profiler import quiet_profile

    cuda = device_of(model).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    runs = max(1, runs)
    with torch.inference_mode():
        model(*inputs)
        with quiet_profile(activities=activities, record_shapes=False) as prof:
            for _ in range(runs):
                model(*inputs)
            if cuda:
                torch.cuda.synchronize()
    out = []
    for avg in prof.key_averages():
        us = avg.self_device_time_total if cuda else avg.self_cpu_time_total
        if avg.key.startswith("[") or us <= 0:  # "[memory]" bookkeeping rows
            continue
        if cuda and avg.cpu_time_total <= 0:  # a kernel's own row: its op already counts it
            continue
        out.append({"op": avg.key, "time_ms": us / 1e3 / runs, "count": avg.count // runs})
    return sorted(out, key=lambda r: -r["time_ms"])
