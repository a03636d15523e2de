"""Model parallel placement: which device each transformer block (and the rest) goes to.

Pure planning, nothing is moved: the strategy (engine.train.strategy_pipeline) applies a
plan, the Training form's preview shows one. The blocks are the model's one stack found by
engine.methods.distill.blocks.transformer_blocks (tiny-gpt/tiny-bert `blocks`, BERT's
`encoder.layer`, GPT-2's `h`, Llama's `layers`). They are cut in order at the split points;
what comes before the stack in the model (embeddings) goes with the first device, what comes
after it (final norm, head, pooler) with the last one; a module tied to an earlier one (GPT-2's
lm_head shares the embedding matrix) stays with it, and a module with buffers only (Llama's
rotary embedding) stays on the first device. Only torch is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.config_fields import ConfigError, FieldError

NO_STACK = ("model_parallel splits a model's stack of transformer blocks; {model} has none "
            "(GPT/BERT/Llama-style models); use strategy single")  # fmt: skip


@dataclass(frozen=True)
class Stage:
    """Blocks first..last (inclusive) on one device, with the parameters stored there."""

    device: str
    first: int
    last: int
    params: int


@dataclass(frozen=True)
class Placement:
    """A model parallel plan: the block stack cut into stages, and where the other modules go."""

    block_path: str  # dotted path of the block ModuleList ('' = the model is the list)
    stages: tuple[Stage, ...]
    split_points: tuple[int, ...]
    balanced: bool  # split points chosen by balanced_splits (the recipe left them empty)
    # (module path, stage index) of the modules outside the stack: an index, not a device, so
    # cpu,cpu still puts the head with the last stage
    units: tuple[tuple[str, int], ...]

    def summary(self) -> str:
        """One line: 'model parallel: blocks 0-5 on cuda:0 (42.1M params), 6-11 on cuda:1 (43.0M)'."""
        parts = []
        for i, s in enumerate(self.stages):
            blocks = f"{s.first}-{s.last}" if s.last > s.first else f"{s.first}"
            count = f"{human_params(s.params)} params" if i == 0 else human_params(s.params)
            parts.append(f"{blocks} on {s.device} ({count})")
        how = " (balanced by parameter count)" if self.balanced else ""
        return "model parallel: blocks " + ", ".join(parts) + how

    def record(self) -> dict[str, Any]:
        """The card's record: blocks and parameters per device, the split points used."""
        return {
            "split_points": list(self.split_points),
            "balanced": self.balanced,
            "placement": [{"device": s.device, "blocks": [s.first, s.last], "params": s.params}
                          for s in self.stages],  # fmt: skip
        }


def human_params(n: int) -> str:
    """42100000 -> '42.1M', 9300 -> '9.3K'."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)


def balanced_splits(param_counts: Sequence[int], n_devices: int) -> tuple[int, ...]:
    """Split points (n_devices - 1 block indices) cutting the blocks into contiguous stages
    whose largest parameter sum is as small as it can be; each stage gets one block or more.

    The classic linear partition by dynamic programming: best[k][i] is the smallest possible
    largest stage of the first i blocks in k stages. O(devices × blocks²), a few ms for 100 blocks.
    """
    n = len(param_counts)
    if not 1 <= n_devices <= n:
        raise ValueError(f"cannot split {n} blocks over {n_devices} devices (1 to {n})")
    prefix = [0]
    for c in param_counts:
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(n_devices + 1)]
    cut = [[0] * (n + 1) for _ in range(n_devices + 1)]
    best[0][0] = 0
    for k in range(1, n_devices + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                worst = max(best[k - 1][j], prefix[i] - prefix[j])
                if worst < best[k][i]:
                    best[k][i], cut[k][i] = worst, j
    splits, i = [], n
    for k in range(n_devices, 1, -1):
        i = cut[k][i]
        splits.append(i)
    return tuple(reversed(splits))


def split_problem(split_points: Sequence[int], n_devices: int, n_blocks: int | None) -> str | None:
    """Why these split points cannot cut the blocks over n_devices (train.split_points), or None.

    Empty means balanced (always fine). `n_blocks` is None before the model is known: then
    only the count and the order are checked.
    """
    points = tuple(split_points)
    if not points:
        return None
    if len(points) != n_devices - 1:
        return (f"gives {len(points)} split point(s) for {n_devices} devices; give "
                f"{n_devices - 1} (one fewer than train.devices) or leave it empty for balanced")
    if points[0] < 1 or any(b <= a for a, b in zip(points, points[1:], strict=False)):
        return (f"must be increasing block indices from 1 (each is where the next device "
                f"starts), got {', '.join(map(str, points))}")
    if n_blocks is not None and points[-1] >= n_blocks:
        return (f"split point {points[-1]} is past the model's last block ({n_blocks} blocks, "
                f"0-{n_blocks - 1}); each must be 1 to {n_blocks - 1}")
    return None


def block_stack(module: nn.Module) -> tuple[str, nn.ModuleList]:
    """The model's block stack; ConfigError naming train.strategy when it has none (or several)."""
    from engine.methods.distill.blocks import model_type, transformer_blocks

    try:
        return transformer_blocks(module)
    except ValueError:
        raise ConfigError([FieldError("train.strategy", NO_STACK.format(model=model_type(module)))]) \
            from None  # fmt: skip


def _outside_units(module: nn.Module, block_path: str) -> list[tuple[str, nn.Module, bool]]:
    """(path, module, after the stack) of each module beside the path from the root to the stack.

    At every level the children before the one leading to the stack come before it in the
    model (embeddings), those after it come after (final norm, head, pooler).
    """
    parts = block_path.split(".") if block_path else []
    units, parent, prefix = [], module, ""
    for part in parts:
        after = False
        for name, child in parent.named_children():
            if name == part:
                after = True
                continue
            units.append((prefix + name, child, after))
        parent, prefix = getattr(parent, part), f"{prefix}{part}."
    return units


def _unit_stages(units: list[tuple[str, nn.Module, bool]], last: int) -> list[int]:
    """Each outside module's stage (0 or `last`): before the stack, or buffers only -> 0; after
    -> last; tied to a module before the stack (sharing a parameter: GPT-2's lm_head and its
    embedding) -> 0, where the shared matrix is."""
    owner: dict[int, int] = {}
    stages = [0] * len(units)
    # the modules before the stack own the tied parameters, whatever level they are found at
    for i in sorted(range(len(units)), key=lambda i: units[i][2]):
        _path, unit, after = units[i]
        params = list(unit.parameters())
        tied = next((owner[id(p)] for p in params if id(p) in owner), None)
        stages[i] = tied if tied is not None else (last if after and params else 0)
        for p in params:
            owner.setdefault(id(p), stages[i])
    return stages


def _unique_count(modules: Sequence[nn.Module], seen: set[int]) -> int:
    """Parameters of `modules` not counted yet (tied weights count once)."""
    total = 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def plan_placement(
    module: nn.Module, devices: Sequence[str], split_points: Sequence[int] = ()
) -> Placement:
    """Where each block and module goes on `devices` (in order); balanced when split_points is
    empty. ConfigError naming train.split_points / train.devices / train.strategy when it cannot."""
    path, blocks = block_stack(module)
    n_dev, n_blocks = len(devices), len(blocks)
    if n_dev > n_blocks:
        raise ConfigError([FieldError("train.devices", f"lists {n_dev} devices for {n_blocks} "
                                      "transformer blocks; list at most one device per block")])
    problem = split_problem(split_points, n_dev, n_blocks)
    if problem:
        raise ConfigError([FieldError("train.split_points", problem)])
    units = _outside_units(module, path)
    unit_stages = _unit_stages(units, n_dev - 1)
    seen: set[int] = set()
    # parameters outside the stack first (tied ones once), so a block never claims an embedding
    first_extra = _unique_count([u for (_p, u, _a), k in zip(units, unit_stages, strict=True)
                                 if k == 0], seen)  # fmt: skip
    last_extra = _unique_count([u for (_p, u, _a), k in zip(units, unit_stages, strict=True)
                                if k != 0], seen)  # fmt: skip
    in_blocks = {id(p) for b in blocks for p in b.parameters()}
    # the ancestors' own parameters (none in the supported models) stay on the first device
    first_extra += sum(p.numel() for p in module.parameters()
                       if id(p) not in seen and id(p) not in in_blocks)  # fmt: skip
    counts = [_unique_count([b], seen) for b in blocks]
    balanced = not split_points
    points = tuple(split_points) or balanced_splits(
        [c + (first_extra if i == 0 else 0) + (last_extra if i == n_blocks - 1 else 0)
         for i, c in enumerate(counts)], n_dev)  # fmt: skip
    bounds = (0, *points, n_blocks)
    stages = []
    for i, dev in enumerate(devices):
        lo, hi = bounds[i], bounds[i + 1]
        params = sum(counts[lo:hi]) + (first_extra if i == 0 else 0)
        params += last_extra if i == n_dev - 1 else 0
        stages.append(Stage(dev, lo, hi - 1, params))
    return Placement(path, tuple(stages), points, balanced,
                     tuple((p, k) for (p, _u, _a), k in zip(units, unit_stages, strict=True)))  # fmt: skip


def stage_of(placement: Placement, block: int) -> Stage:
    """The stage holding block index `block`."""
    return next(s for s in placement.stages if s.first <= block <= s.last)


def visible_gpus() -> list[str]:
    """cuda:0 .. cuda:N-1 for the GPUs torch sees."""
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def _device_problem(name: str, n_gpus: int) -> str | None:
    """Why `name` (one entry of train.devices) is no device of this machine, or None."""
    try:
        dev = torch.device(name)
    except RuntimeError:
        return f"'{name}' is not a device; list cpu or cuda:N entries, comma-separated"
    if dev.type not in ("cpu", "cuda"):
        return f"'{name}': model_parallel places blocks on cpu or cuda:N devices"
    if dev.type == "cuda" and (dev.index or 0) >= n_gpus:
        have = f"{n_gpus} CUDA GPU(s), cuda:0-cuda:{n_gpus - 1}" if n_gpus else "no CUDA GPU"
        return f"'{name}' is not on this machine, which has {have}"
    return None


def config_problems(train: Any) -> list[tuple[str, str]]:
    """What a model_parallel TrainConfig cannot do on this machine, as (field, message), before
    the model is loaded (the block count is checked with it: model_parallel_problems)."""
    listed = [d.strip() for d in train.devices.split(",") if d.strip()]
    n_gpus = torch.cuda.device_count()
    if not listed and n_gpus < 2:
        return [("strategy", f"model_parallel needs 2+ devices and this machine has {n_gpus} "
                 "CUDA GPU(s); list them in train.devices (devices: cpu,cpu runs the split on "
                 "CPU, to test it)")]  # fmt: skip
    problems = [("devices", p) for p in (_device_problem(d, n_gpus) for d in listed) if p]
    if len(listed) == 1:
        problems.append(("devices", f"lists one device ({listed[0]}); model_parallel splits "
                         "the blocks over 2 or more (or leave it empty for every GPU)"))  # fmt: skip
    problem = split_problem(train.split_points, len(listed) or n_gpus, None)
    if problem:
        problems.append(("split_points", problem))
    elif train.hf_device_map and train.split_points:
        problems.append(("split_points", "is not used with hf_device_map (accelerate places "
                         "the model); leave it empty"))  # fmt: skip
    if train.hf_device_map:
        from engine.train.placement_hf import accelerate_problem

        problem = accelerate_problem()
        if problem:
            problems.append(("hf_device_map", problem))
    return problems
