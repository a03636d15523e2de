"""What the training-setup benches share: a step clock, synthetic token blocks, a GPT-2 built
from its config (no download) and one run of the engine's loop (engine.train.loop.fine_tune)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from engine.context import JobContext, JobControl
from engine.data.bundle import TokenDataset
from engine.events import Metric
from engine.recipe import TrainConfig
from engine.train.loop import fine_tune


class StepClock:
    """Steady-state time per optimizer step, between the end of step `start` and the last step.

    The engine calls it as a TrainHook (after every optimizer step); the hand-written loops call
    `on_step` at the same point. Leaving out the first steps drops the warm-up (allocator,
    kernel choice, autotuning) and the run's setup and final evaluation; on CUDA the two marks
    synchronise, so queued kernels are counted, and no other step waits for the device.
    """

    def __init__(self, start: int, last: int, device: torch.device):
        if not 0 < start < last:
            raise ValueError(f"StepClock wants 0 < start < last, got {start} and {last}")
        self.start, self.last, self.device = start, last, device
        # (wall, this process's CPU time) at the two marks
        self.marks: dict[int, tuple[float, float]] = {}

    def on_step(self, step: int) -> None:
        if step in (self.start, self.last):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.marks[step] = (time.perf_counter(), time.process_time())

    def ms_per_step(self, cpu: bool = False) -> float:
        """Wall-clock ms per step; `cpu`: this process's CPU time instead (on a CPU shared with
        other jobs, what the steps cost without the time spent waiting for a core)."""
        i = 1 if cpu else 0
        return (self.marks[self.last][i] - self.marks[self.start][i]) * 1000 / (self.last - self.start)

    # a TrainHook also saves and restores its state (for resumable runs; none here)
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def token_blocks(n: int, seq: int, vocab: int, distinct: int = 64, seed: int = 0) -> TokenDataset:
    """n full-length blocks of random tokens: `distinct` different ones, repeated, so a model
    memorises them and the loss curve falls (a curve worth comparing across precisions)."""
    gen = torch.Generator().manual_seed(seed)
    pool = torch.randint(0, vocab, (distinct, seq), generator=gen)
    ids = pool[torch.arange(n) % distinct]
    return TokenDataset(ids, torch.ones_like(ids), ids.clone())


def gpt2_module(tiny: bool = False) -> nn.Module:
    """GPT-2 small (124M parameters, 12 layers, width 768, 12 heads, vocab 50257) from its config
    with random weights, wrapped as the engine feeds models (input_ids, attention_mask -> logits);
    `tiny`: 2 layers of width 64, vocab 1000, for a CPU check of the bench itself."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.models.hf import HFLogitsWrapper

    if tiny:
        config = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=512,
                            bos_token_id=0, eos_token_id=0)
    else:
        config = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
    torch.manual_seed(0)
    return HFLogitsWrapper(GPT2LMHeadModel(config))


def run_engine(
    module: nn.Module, train: TokenDataset, val: TokenDataset, cfg: TrainConfig,
    device: torch.device, clock: StepClock,
) -> list[tuple[int, float]]:  # fmt: skip
    """fine_tune `module` (already on `device`) with `clock` as its hook; the train/loss curve
    [(step, loss)] it emitted (every cfg.log_every steps)."""
    events: list = []
    ctx = JobContext(events.append, JobControl())
    fine_tune(module, "causal-lm", train, val, cfg, ctx, device, hooks=[clock])
    return [(e.step, e.value) for e in events if isinstance(e, Metric) and e.name == "train/loss"]
