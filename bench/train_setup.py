"""CPU DDP: 2 gloo processes vs 1 process on the same global batch (issue 11).

The built-in tiny-gpt (4 blocks, d=128, pretrained) fine-tunes N steps on Shakespeare
blocks: once in one process with batch 2B, once as 2 torchrun processes (gloo) with batch B
each: the same global batch, the same samples per step. Prints the largest weight difference
(the attention key bias left out: softmax ignores it, so its gradient is rounding noise that
Adam scales up to lr-sized steps) and the step times. Each process uses 1 thread, so the
ratio says what a second core buys, minus DDP's all-reduce.

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_setup.py [--steps 20] [--batch 8] [--seq 64]

Measured 2026-12-03 on this project's machine (2 cores shared with other jobs, load average
3.3-3.6; torch 2.13 CPU), global batch 16 x 64 tokens:
    --steps 20: 1 process 212.1 ms/step, 2 gloo processes 230.2 ms/step (0.92x),
                largest weight difference 6.8e-06
    --steps 40: 1 process 223.5 ms/step, 2 gloo processes 172.0 ms/step (1.30x),
                largest weight difference 3.6e-05
The weights agree to float rounding (Adam magnifies it a little over the steps); the time
ratio depends on whether the second process gets a free core (here: other jobs compete).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.context import JobContext, JobControl  # noqa: E402
from engine.data import load_data  # noqa: E402
from engine.models.loaders import load_model  # noqa: E402
from engine.recipe import DataSpec, ModelSpec, TrainConfig  # noqa: E402
from engine.train.loop import fine_tune  # noqa: E402


def train(steps: int, batch: int, seq: int, strategy: str) -> tuple[dict, float]:
    """fine_tune the built-in tiny-gpt; (weights, seconds per step)."""
    torch.set_num_threads(1)
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=seq,
                              max_samples=steps * 16 * 2 + 32), loaded)  # fmt: skip
    cfg = TrainConfig(epochs=1, max_steps=steps, batch_size=batch, lr=5e-4, eval_every=10**6,
                      eval_batches=1, log_every=10**6, device="cpu", strategy=strategy)  # fmt: skip
    ctx = JobContext(lambda e: None, JobControl())
    stats = fine_tune(loaded.module, "causal-lm", data.train, data.val, cfg, ctx,
                      torch.device("cpu"))  # fmt: skip
    return loaded.module.state_dict(), stats.seconds / stats.steps


def worker(args: argparse.Namespace) -> None:
    """One rank under torchrun: train with DDP; rank 0 saves weights and its step time."""
    import torch.distributed as dist

    dist.init_process_group("gloo")
    weights, per_step = train(args.steps, args.batch, args.seq, "ddp")
    if dist.get_rank() == 0:
        torch.save(weights, args.out / "ddp.pt")
        (args.out / "ddp.json").write_text(json.dumps({"per_step": per_step}))
    dist.destroy_process_group()


def max_diff(a: dict, b: dict) -> float:
    worst = 0.0
    for k in a:
        x, y = a[k], b[k]
        if k.endswith("attn.qkv.bias"):  # drop the key third
            n = x.numel() // 3
            x, y = torch.cat([x[:n], x[2 * n :]]), torch.cat([y[:n], y[2 * n :]])
        worst = max(worst, float((x - y).abs().max()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8, help="per process (the single one takes 2x)")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               "2", str(Path(__file__).resolve()), "--worker", "--out", tmp, "--steps",
               str(args.steps), "--batch", str(args.batch), "--seq", str(args.seq)]  # fmt: skip
        subprocess.run(cmd, check=True, env=env, cwd=ROOT)
        ddp = torch.load(Path(tmp) / "ddp.pt", weights_only=True)
        ddp_step = json.loads((Path(tmp) / "ddp.json").read_text())["per_step"]
    one, one_step = train(args.steps, 2 * args.batch, args.seq, "single")
    print(f"{args.steps} steps, global batch {2 * args.batch} x {args.seq} tokens")
    print(f"1 process, batch {2 * args.batch}:      {one_step * 1000:.1f} ms/step")
    print(f"2 gloo processes, batch {args.batch} each: {ddp_step * 1000:.1f} ms/step")
    print(f"speed-up (1-process time / DDP time): {one_step / ddp_step:.2f}x")
    print(f"largest weight difference: {max_diff(one, ddp):.2e}")


if __name__ == "__main__":
    main()
