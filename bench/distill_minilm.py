"""Distillation on a real model: MiniLM + BBC News, teacher and 3-block students in one run.

Teacher (default --teacher finetuned, the issue's fine-tuned 6-layer model): the built-in
minilm-bbc (all-MiniLM-L6-v2, 6 blocks, 5-class BBC head) fine-tuned --steps first, a workspace
run the students are cut from (--teacher shipped: minilm-bbc as installed). Students: layer drop keeping teacher blocks 0, 2, 4 (their weights), trained through
the workbench's own Job with a distill step built in code, the same step a recipe runs:
- task only: alpha 1 (the KD term has weight 0; the teacher still runs, its loss unused);
- distilled: KD on soft labels mixed with the task loss (alpha 0.5, T 2 unless --settings).
Every student trains the same steps, batch, lr and data order (seed 0).

Columns: validation accuracy (the job's evaluation on BBC's 15% validation split) and as % of
the teacher, parameters, the ONNX fp32 file the job exported, and onnxruntime latency at batch
8 x 128 tokens (real BBC articles), 2 threads, all files loaded in this process and timed in
interleaved rounds (engine/export/side_by_side.py); speed-up: median over rounds of the
teacher's time / the row's.

Targets (issue 10): distilled student >= 99% of the teacher's accuracy and not below the
task-only student; ORT latency >= 1.8x faster than the teacher.

    .venv/bin/python bench/distill_minilm.py [--steps N] [--quick] [--settings a,T,h ...]

Measured (2 cores shared with other jobs, 334 validation articles: 1 article = 0.3 points):
`--teacher finetuned --steps 120 --settings 0.5,2 0.5,2,1 --seeds 2 --train-threads 1` (the
defaults plus a hidden-state row; 79 min on the loaded machine):

    row                        accuracy  % teacher  params      ONNX MB  p50 ms  speed-up  seeds
    teacher (6 blocks)           97.90%    100.0%   22,715,141   91.01   702.4    1.00x
    student task only            98.20%    100.3%   17,391,749   69.66   352.2    2.09x   98.50% 97.90%
    student KD a=0.5 T=2         98.35%    100.5%   17,391,749   69.66   350.1    2.10x   98.20% 98.50%
    student KD a=0.5 T=2 h=1     98.20%    100.3%   17,391,749   69.66   331.6    2.07x   98.20% 98.20%

All three targets met for both KD rows, but the KD-vs-task-only margin is half an article on
average: within the seeds' spread (0.6 points). The students pass the teacher because they train
120 steps more than it did. Earlier single-seed runs: the shipped teacher (its head trained on
a frozen encoder) reads 94.0%, and every fine-tuned student outgrows it (task only 98.2%, KD
a=0.5 T=2 97.6%, a=0.2 T=4 96.1%); a teacher fine-tuned 80 steps: 97.3%, task only 97.0%, KD
96.7%.

--quick: 6 steps on 300 samples (checks the script, not the targets; ~2 minutes).
A default run fine-tunes the teacher 120 steps, then trains each student 120 steps per seed
(~1.1 s a step on 2 idle cores, the teacher running alongside): about 20 minutes idle; each
extra --settings entry adds about 6.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from distill_common import kd_label, parse_setting  # noqa: E402
from distill_common import run_job as run  # noqa: E402
from quantize_minilm import cpu_flags  # noqa: E402

from engine.export.side_by_side import paired_speedup, percentiles, time_rounds  # noqa: E402
from engine.recipe import Recipe  # noqa: E402

BATCH, SEQ, THREADS = 8, 128, 2
KEEP = [0, 2, 4]
TEACHER = "teacher (6 blocks)"


def row_name(alpha: float, temperature: float, hidden: float) -> str:
    """The table's label for a student (alpha 1 and no hidden loss: the task-only student)."""
    if alpha == 1.0 and hidden == 0.0:
        return "student task only"
    return f"student {kd_label(alpha, temperature, hidden)}"


def recipe(name: str, steps: int, quick: bool, step: dict | None, train: bool = True,
           model: dict | None = None, seed: int = 0) -> Recipe:
    """The recipe a user would write: minilm-bbc (or `model`) on BBC News, one distill step
    or none; train=False: no training (the shipped teacher as it is)."""
    # epochs only bound the run: max_steps stops it (BBC is 119 steps an epoch at batch 16)
    train = {"epochs": 20 if train else 0, "max_steps": steps, "batch_size": 16, "lr": 1e-4,
             "warmup_steps": 10, "eval_every": max(steps, 1), "log_every": 10, "seed": seed}
    data = {"source": "builtin", "path": "bbc-news", "max_length": SEQ, "val_fraction": 0.15}
    if quick:
        data["max_samples"] = 300
    return Recipe.from_dict({
        "name": name, "model": model or {"source": "builtin", "path": "minilm-bbc"}, "data": data,
        "methods": [step] if step else [], "train": train,
        "export": {"enabled": True, "opset": 17, "latency_batch": BATCH, "latency_seq": SEQ,
                   "latency_runs": 3},
    })  # fmt: skip


def timed_feeds() -> dict[str, np.ndarray]:
    """8 BBC articles (all five topics) tokenized to 128 tokens."""
    from transformers import AutoTokenizer

    from engine.data.builtin import bbc_news
    from engine.models.builtin import minilm_path

    articles, _ = bbc_news()
    tok = AutoTokenizer.from_pretrained(minilm_path())
    enc = tok([articles[i] for i in range(1, 9 * 46, 46)][:BATCH], padding="max_length",
              truncation=True, max_length=SEQ, return_tensors="np")  # fmt: skip
    return {k: v.astype(np.int64) for k, v in enc.items()}


def mean_accuracy(runs: list[dict]) -> float:
    return float(np.mean([c["metrics"]["accuracy"] for c in runs]))


def print_table(cards: dict[str, list[dict]], times: dict[str, list[float]], rounds: int) -> None:
    """One row per teacher/student; with several seeds the accuracy is their mean and the
    seeds' own accuracies follow; files and latency are the first seed's (same shapes)."""
    t_acc = mean_accuracy(cards[TEACHER])
    seeds = max(len(runs) for runs in cards.values())
    print(f"\nBBC validation accuracy{f' (mean of {seeds} seeds)' if seeds > 1 else ''}; ORT "
          f"fp32 batch {BATCH} x {SEQ} tokens, {THREADS} threads, {rounds} interleaved rounds")
    print(f"   {'row':<30}{'accuracy':>9}{'% teacher':>10}{'params':>12}{'ONNX MB':>9}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'speed-up':>9}  seeds")  # fmt: skip
    for name, runs in cards.items():
        acc, card = mean_accuracy(runs), runs[0]
        p50, p95 = percentiles(times[name])
        size = os.path.getsize(card["onnx"]["path"]) / 1e6
        speed = paired_speedup(times[TEACHER], times[name])
        each = " ".join(f"{c['metrics']['accuracy']:.2%}" for c in runs) if len(runs) > 1 else ""
        print(f"   {name:<30}{acc:>9.2%}{acc / t_acc:>10.1%}{card['model']['params']:>12,}"
              f"{size:>9.2f}{p50:>8.1f}{p95:>8.1f}{speed:>8.2f}x  {each}")  # fmt: skip
    task = cards.get("student task only")
    for name in (n for n in cards if "KD" in n):
        acc = mean_accuracy(cards[name])
        checks = [(">= 99% of teacher", acc >= 0.99 * t_acc),
                  ("latency >= 1.8x", paired_speedup(times[TEACHER], times[name]) >= 1.8)]
        if task is not None:
            checks.append((">= task only", acc >= mean_accuracy(task)))
        print(f"   targets for {name}: "
              + ", ".join(f"{c} {'met' if ok else 'NOT met'}" for c, ok in checks))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120,
                    help="training steps of each student (batch 16: ~1 epoch of BBC)")
    ap.add_argument("--quick", action="store_true", help="6 steps on 300 samples (checks the script)")
    ap.add_argument("--settings", nargs="*", default=["0.5,2"],
                    help="distilled students, each alpha,T[,hidden_weight]")
    ap.add_argument("--teacher", choices=("shipped", "finetuned"), default="finetuned",
                    help="shipped = minilm-bbc as installed (head trained on the frozen "
                    "encoder); finetuned = minilm-bbc fine-tuned --steps first, then the "
                    "students are cut from it")
    ap.add_argument("--seeds", type=int, default=2,
                    help="train each student with seeds 0..N-1 (data order, dropout) and "
                    "compare mean accuracies: one seed's 1-article differences are noise")
    ap.add_argument("--train-threads", type=int, default=THREADS,
                    help="torch threads while training (timing always uses 2)")
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds (each runs every file)")
    ap.add_argument("--workspace", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args(argv)
    steps = 6 if args.quick else args.steps
    torch.set_num_threads(args.train_threads)
    start = time.perf_counter()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="bench-distill-minilm-"))
    print(f"CPU: {cpu_flags()}; {os.cpu_count()} cores; threads {THREADS}; {steps} steps, "
          f"batch 16; teacher {args.teacher}; workspace {ws}", flush=True)  # fmt: skip
    tuned = args.teacher == "finetuned"  # the shipped head was trained on a frozen encoder
    cards = {TEACHER: [run(TEACHER, recipe("teacher", steps, args.quick, None, tuned), ws)]}
    model = {"source": "variant", "path": cards[TEACHER][0]["run_id"]} if tuned else None
    for a, t, h in [(1.0, 2.0, 0.0)] + [parse_setting(s) for s in args.settings]:
        step = {"type": "distill", "student": "layer_drop", "keep_layers": KEEP, "alpha": a,
                "temperature": t, "hidden_weight": h}  # fmt: skip
        name = row_name(a, t, h)
        cards[name] = [run(f"{name} seed {seed}", recipe(
            f"{name.replace(' ', '-').replace('=', '')}-s{seed}", steps, args.quick, step,
            model=model, seed=seed), ws) for seed in range(args.seeds)]  # fmt: skip
    torch.set_num_threads(THREADS)
    times = time_rounds({n: c[0]["onnx"]["path"] for n, c in cards.items()}, timed_feeds(),
                        runs=args.rounds, warmup=3, threads=THREADS)  # fmt: skip
    print_table(cards, times, args.rounds)
    print(f"   whole bench: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
