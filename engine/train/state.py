"""Resumable training state: weights and masks, optimizer, schedules and RNG in one file.

Written every `checkpoint_every` steps by engine.train.loop.fine_tune; read with weights_only
so a run folder's file can never run code.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.methods.base import TrainHook


@dataclass
class TrainState:
    """What a resumable state holds, in one place: the loop saves and loads it by step."""

    module: nn.Module
    opt: Any
    sched: Any
    hooks: Sequence[TrainHook] = ()
    objective: nn.Module | None = None
    precision: Any = None  # engine.train.precision.Precision: the fp16 scaler's state

    def save(self, path: Path, step: int) -> None:
        """save_train_state of everything here at `step`."""
        scaler = self.precision.state_dict() if self.precision is not None else {}
        save_train_state(path, step, self.module, self.opt, self.sched, self.hooks,
                         self.objective, scaler)  # fmt: skip

    def load(self, path: Path) -> int:
        """load_train_state into everything here; the step to continue from."""
        return load_train_state(path, self.module, self.opt, self.sched, self.hooks,
                                self.objective, self.precision)  # fmt: skip


def save_train_state(
    path: Path, step: int, module: nn.Module, opt: Any, sched: Any, hooks: Sequence[TrainHook],
    objective: nn.Module | None = None, scaler: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Everything needed to continue exactly: weights and masks, optimizer, schedules, RNG,
    the parameters a training objective owns (distillation's projections) and the fp16
    gradient scaler (its scale and growth tracker: a resumed run scales as it would have)."""
    state = {
        "scaler": scaler or {},
        "objective": objective.state_dict() if objective is not None else {},
        "step": step,
        "model": module.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "hooks": [h.state_dict() for h in hooks],
        "rng": torch.get_rng_state(),
    }
    # the temp name atomic_io uses: a crash mid-write leaves the previous state intact, and
    # the half-written file is cleared with the rest of a crashed run's temp files
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_train_state(
    path: Path, module: nn.Module, opt: Any, sched: Any, hooks: Sequence[TrainHook],
    objective: nn.Module | None = None, precision: Any = None,
) -> int:  # fmt: skip
    """Restore what save_train_state wrote; returns the step to continue from."""
    state = read_train_state(path)
    module.load_state_dict(state["model"])
    owned = state.get("objective", {})
    if bool(owned) != (objective is not None):
        raise ValueError(f"{path.name} was written by a run whose training objective "
                         f"{'owned' if owned else 'had no'} parameters, unlike this recipe's: "
                         "resume with the recipe the run was started with")
    if objective is not None:
        objective.load_state_dict(owned)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    if len(state["hooks"]) != len(hooks):
        raise ValueError(f"{path.name} has {len(state['hooks'])} schedule(s), the recipe "
                         f"{len(hooks)}: resume with the recipe the run was started with")
    for hook, hs in zip(hooks, state["hooks"], strict=True):
        hook.load_state_dict(hs)
    if precision is not None:  # a state from before fp16 training existed has no scaler
        precision.load_state_dict(state.get("scaler") or {})
    torch.set_rng_state(state["rng"])
    return int(state["step"])


def read_train_state(path: Path) -> dict[str, Any]:
    """torch.load a training state with weights only; refuse anything else in one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, i.e. running the file's code: no
        raise ValueError(
            f"{path} holds more than tensors (loading it would need full unpickling, which can "
            "run code) and is refused; this run cannot be resumed, run its recipe again"
        ) from None
    except Exception as exc:  # truncated, not a torch file, ...
        raise ValueError(f"{path} is damaged ({type(exc).__name__}); this run cannot be "
                         "resumed, run its recipe again") from None
    if not isinstance(state, dict) or not {"step", "model", "optimizer"} <= set(state):
        raise ValueError(f"{path} is not a workbench training state; run the recipe again")
    return state
