"""GPU figures of issue 11's training setup, all through the engine's loop (fine_tune).

A GPT-2-small-sized model (124M parameters: 12 layers, width 768, 12 heads, vocab 50257; built
from its transformers config with random weights, nothing downloaded) trains on synthetic
token blocks of 512 (64 distinct blocks of ids below 1000, repeated, so the loss falls and the
curves of the settings can be compared). Each setting starts from the same weights on the same batches:
  fp32 | bf16 autocast | fp16 autocast + GradScaler   step time, speed-up vs fp32 (target >= 2x),
                                                      peak memory (torch.cuda.max_memory_allocated)
  bf16 + gradient checkpointing                       its memory saving and time cost vs bf16
  DeepSpeed ZeRO-2 (bf16) in a 1-process nccl group   runs, and its loss curve vs bf16's
                                                      (only with `deepspeed` installed and
                                                      engine/train/strategy_deepspeed.py landed)
Step time is taken between the end of step --warm and the last step (bench.train_common.StepClock).

    python3 bench/gpu_train_setup.py                    # the GPU run, about a minute on an H200
    .venv/bin/python bench/gpu_train_setup.py --device cpu --tiny   # a check of the bench on CPU

bench/gpu_checks.sh runs it with the other GPU checks. No GPU figures yet: the session that wrote
it had no GPU machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.train_common import StepClock, gpt2_module, run_engine, token_blocks  # noqa: E402
from engine.recipe import TrainConfig  # noqa: E402
from engine.train.device_checks import precision_problem  # noqa: E402


@dataclasses.dataclass
class Row:
    label: str
    ms: float = 0.0
    peak_mb: float | None = None
    losses: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    skipped: str = ""  # why the setting did not run


def measure(label: str, cfg: TrainConfig, args: argparse.Namespace, data) -> Row:
    """One engine run of a fresh model (the same initial weights every time)."""
    device = torch.device(args.device)
    problem = precision_problem(cfg.precision, args.device)
    if problem:
        return Row(label, skipped=problem)
    module = gpt2_module(args.tiny).to(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    clock = StepClock(args.warm, args.steps, device)
    losses = run_engine(module, data[0], data[1], cfg, device, clock)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    del module
    gc.collect()
    return Row(label, clock.ms_per_step(), peak, losses)


def deepspeed_row(cfg: TrainConfig, args: argparse.Namespace, data) -> Row:
    """ZeRO-2 at bf16 through the engine, in a torch.distributed group of this process alone."""
    label = "deepspeed ZeRO-2 bf16"
    if importlib.util.find_spec("deepspeed") is None:
        return Row(label, skipped="deepspeed is not installed (pip install .[deepspeed])")
    if importlib.util.find_spec("engine.train.strategy_deepspeed") is None:
        return Row(label, skipped="engine/train/strategy_deepspeed.py has not landed")
    if args.device != "cuda":
        return Row(label, skipped="DeepSpeed trains on CUDA GPUs only")
    import torch.distributed as dist

    # what torchrun sets for a world of one (DeepSpeed reads the same variables)
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29541"}.items():  # fmt: skip
        os.environ.setdefault(key, value)
    dist.init_process_group("nccl", rank=0, world_size=1)
    try:
        ds_cfg = dataclasses.replace(cfg, precision="bf16", strategy="deepspeed", deepspeed_stage=2)
        return measure(label, ds_cfg, args, data)
    except Exception as exc:  # the bench reports what broke and carries on with the others
        return Row(label, skipped=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        dist.destroy_process_group()


def report(rows: dict[str, Row]) -> None:
    """The table, then the issue's targets against it."""
    base = rows["fp32"]
    print(f"{'setting':<24}{'ms/step':>10}{'vs fp32':>9}{'peak MB':>10}   train/loss at log steps")
    for row in rows.values():
        if row.skipped:
            print(f"{row.label:<24}  skipped: {row.skipped}")
            continue
        peak = f"{row.peak_mb:10.0f}" if row.peak_mb is not None else f"{'n/a':>10}"
        curve = " ".join(f"{loss:.4f}" for _, loss in row.losses)
        print(f"{row.label:<24}{row.ms:10.2f}{base.ms / row.ms:8.2f}x{peak}   {curve}")
    for name in ("bf16", "fp16"):
        row = rows[name]
        if not row.skipped:
            speed = base.ms / row.ms
            print(f"{name} speed-up vs fp32: {speed:.2f}x (target >= 2x: "
                  f"{'met' if speed >= 2 else 'NOT met'}); largest train/loss difference from "
                  f"fp32 at the log steps: {curve_gap(row, base):.4f}")  # fmt: skip
    ckpt, bf16 = rows["bf16+ckpt"], rows["bf16"]
    if not ckpt.skipped and not bf16.skipped:
        memory = (f"peak {bf16.peak_mb:.0f} -> {ckpt.peak_mb:.0f} MB "
                  f"({1 - ckpt.peak_mb / bf16.peak_mb:.0%} less)" if bf16.peak_mb else "peak n/a on CPU")  # fmt: skip
        print(f"gradient checkpointing at bf16: {memory}, step time {ckpt.ms / bf16.ms - 1:+.0%}")
    ds = rows["deepspeed"]
    if not ds.skipped and not bf16.skipped:
        print(f"deepspeed ZeRO-2 vs engine bf16: step time {ds.ms / bf16.ms:.2f}x, largest "
              f"train/loss difference at the log steps {curve_gap(ds, bf16):.4f}")  # fmt: skip


def curve_gap(a: Row, b: Row) -> float:
    """The largest |loss difference| at the log steps both curves have."""
    theirs = dict(b.losses)
    return max((abs(x - theirs[s]) for s, x in a.losses if s in theirs), default=float("nan"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--tiny", action="store_true", help="2 layers of width 64, seq 64, batch 4")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per setting")
    ap.add_argument("--warm", type=int, default=10, help="steps left out of the timing")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--log-every", type=int, default=5, help="train/loss points of the curves")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.tiny:  # few steps of a small model: checks the bench end to end, measures nothing
        args.seq, args.batch = min(args.seq, 64), min(args.batch, 4)
        args.steps, args.warm, args.log_every = min(args.steps, 6), min(args.warm, 2), 2
        args.lr = 3e-3  # so the tiny model's loss moves within 6 steps
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_train_setup: no CUDA device here (torch {torch.__version__}); this bench is "
              "for a GPU machine (--device cpu --tiny checks it on CPU)")  # fmt: skip
        return 2
    torch.set_num_threads(args.threads)
    # tokens from the first 1000 ids of the vocabulary: the loss falls from ln(50257) ~ 10.8
    # towards ln(1000) ~ 6.9 within the run, a curve that shows where precisions part
    data = (token_blocks(args.steps * args.batch, args.seq, 1000),
            token_blocks(args.batch, args.seq, 1000, seed=1))  # fmt: skip
    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch, lr=args.lr, device=args.device,
                      eval_every=10**9, eval_batches=1, log_every=args.log_every)  # fmt: skip
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"GPT-2 {'tiny' if args.tiny else 'small'} (random weights), batch {args.batch} x "
          f"{args.seq} tokens, {args.steps} steps per setting (timed after step {args.warm}) on "
          f"{where}; torch {torch.__version__}, fp32 matmul precision "
          f"{torch.get_float32_matmul_precision()}", flush=True)  # fmt: skip
    rows: dict[str, Row] = {}
    for key, label, precision, ckpt in (("fp32", "fp32", "fp32", False),
                                        ("bf16", "bf16 autocast", "bf16", False),
                                        ("fp16", "fp16 autocast+scaler", "fp16", False),
                                        ("bf16+ckpt", "bf16 + checkpointing", "bf16", True)):  # fmt: skip
        rows[key] = measure(label, dataclasses.replace(cfg, precision=precision,
                                                       grad_checkpointing=ckpt), args, data)  # fmt: skip
        print(f"  {label}: done", flush=True)
    rows["deepspeed"] = deepspeed_row(cfg, args, data)
    report(rows)
    if args.tiny:
        print("(--tiny checks that the bench runs; its times and ratios mean nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
