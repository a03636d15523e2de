"""Throughput of the engine's training loop vs a hand-written PyTorch loop.

Same model (built-in tiny-gpt), same data (Shakespeare blocks), same optimizer
and schedule; the runs alternate engine/hand several times in one process and
the ratio of the medians is printed. Target: engine/hand >= 0.97.

    .venv/bin/python bench/train_loop.py [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.context import JobContext, JobControl  # noqa: E402
from engine.data import load_data  # noqa: E402
from engine.models.loaders import load_model  # noqa: E402
from engine.recipe import DataSpec, ModelSpec, TrainConfig  # noqa: E402
from engine.train.forward import forward_loss  # noqa: E402
from engine.train.loop import _linear_schedule, fine_tune, make_loader  # noqa: E402


def hand_loop(module, ds, cfg: TrainConfig) -> float:
    """The loop a person writes by hand; returns samples/s."""
    loader = make_loader(ds, cfg.batch_size, True, cfg.seed)
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _linear_schedule(0, cfg.max_steps))
    module.train()
    step = samples = 0
    t0 = time.perf_counter()
    while step < cfg.max_steps:
        for batch in loader:
            loss, _ = forward_loss(module, batch, "causal-lm")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            samples += batch["input_ids"].size(0)
            if step >= cfg.max_steps:
                break
    return samples / (time.perf_counter() - t0)


def engine_loop(module, ds, val, cfg: TrainConfig) -> float:
    events: list = []
    ctx = JobContext(events.append, JobControl())
    stats = fine_tune(module, "causal-lm", ds, val, cfg, ctx, torch.device("cpu"))
    return stats.samples / stats.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.manual_seed(0)
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=64, max_samples=3000), loaded)
    # eval only at the end (as a hand loop would not evaluate mid-run at all)
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch, lr=1e-3, eval_every=10**9,
                      eval_batches=1, log_every=10)
    base = copy.deepcopy(loaded.module)
    engine_rates, hand_rates = [], []
    hand_loop(copy.deepcopy(base), data.train, cfg)  # warm-up (allocator, kernels)
    for _ in range(args.repeats):
        engine_rates.append(engine_loop(copy.deepcopy(base), data.train, data.val, cfg))
        hand_rates.append(hand_loop(copy.deepcopy(base), data.train, cfg))
    e, h = statistics.median(engine_rates), statistics.median(hand_rates)
    print(f"model: {loaded.description}; batch {args.batch} x 64 tokens, {args.steps} steps, "
          f"{args.repeats} alternating repeats, torch threads {torch.get_num_threads()}")
    print(f"engine loop : {e:8.1f} samples/s  (runs: {', '.join(f'{r:.1f}' for r in engine_rates)})")
    print(f"hand loop   : {h:8.1f} samples/s  (runs: {', '.join(f'{r:.1f}' for r in hand_rates)})")
    print(f"ratio engine/hand = {e / h:.3f}  (target >= 0.97)")


if __name__ == "__main__":
    main()
