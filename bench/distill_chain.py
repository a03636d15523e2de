"""The full compression chain on MiniLM + BBC News, one workspace: distill -> prune -> int8.

Each link is a workbench recipe (bench/distill_chain_recipes.py) run through engine.job.Job,
each starting from the previous run as a workspace variant:
1. teacher: minilm-bbc fine-tuned --steps (batch 16, lr 1e-4);
2. student: distill, layer drop keeping teacher blocks 0, 2, 4, KD alpha 0.5, T 2, --steps;
3. pruned: structured pruning of --amount of every block's FFN neurons (L1), then a distill
   step on the pruned student (student: as_loaded) from the teacher of link 1, --steps;
4. artifacts of the pruned student (no training): int8 (per-channel dynamic, smoothing 0.7,
   word embeddings int8 too), int8 with int4 embedding tables (`embeddings: int4`), int8 with
   fp32 embeddings, int4 with int4 embeddings; and the teacher's int8 for reference. Each
   file's accuracy is the job's onnxruntime measurement of that file on the validation split
   (the card's artifacts list).

Columns: validation accuracy (BBC's 15% split, 334 articles: 1 article = 0.3 points) and as
% of the fp32 teacher, parameters, the ONNX file, x smaller than the teacher's fp32 file,
onnxruntime p50 at batch 8 x 128 tokens (real BBC articles), all files loaded in this process
and timed in interleaved rounds (engine/export/side_by_side.py), x faster: median over rounds
of the teacher's time / the row's. Training runs on 1 thread (OMP_NUM_THREADS=1), the timed
rounds on 2 ORT intra-op threads. Then the targets of issue 10 for each deployable row
(>= 4x faster, >= 8x smaller file, >= 99% of the teacher's accuracy) and where the final int8
file's bytes are (bench/distill_chain_breakdown.py).

    .venv/bin/python bench/distill_chain.py [--steps 80] [--amount 0.5] [--quick]

--quick: 6 steps on 300 samples (checks the script, not the targets; ~6 minutes).

Measured (`.venv/bin/python bench/distill_chain.py`, 2 shared cores, 1625 s; AVX-512 VNNI):
    row                                   accuracy % teacher  params  file MB smaller faster
    teacher fp32 (6 blocks)                 97.31%    100.0%  22.7M    91.01   1.00x  1.00x
    student fp32 (3 blocks, KD)             96.71%     99.4%  17.4M    69.66   1.31x  2.04x
    pruned student fp32                     96.71%     99.4%  15.6M    62.57   1.45x  2.60x
    pruned student int8                     96.71%     99.4%  15.6M    15.84   5.75x  4.71x
    pruned student int8, fp32 embeddings    96.71%     99.4%  15.6M    51.59   1.76x  4.80x
    pruned student int4 + int4 embeddings   96.11%     98.8%  15.6M    10.41   8.75x  2.25x
    pruned student int8 + int4 embeddings * 96.71%     99.4%  15.6M    10.72   8.49x  4.29x
    teacher int8                            97.01%     99.7%  22.7M    23.17   3.93x  2.04x
(p50: teacher 249.8 ms, pruned int8 55.7 ms; an earlier run under heavier load read 1122 and
211 ms, 5.28x.) The plain int8 artifact meets >= 4x and >= 99% but not 8x: 11.72 of its
15.84 MB (74%) is the 30,522 x 384 word-embedding table (int8, one scale). * In that run this
row was the int8/fp32-embeddings file post-processed by hand; the same file is now the
workbench's `embeddings: int4` option, measured since through the Job on this run's pruned
student: 96.71% (99.4%), 10.72 MB (8.49x smaller), 4.30x faster side by side with the teacher
(both loaded machine): all three targets met. Vocabulary pruning to the 13,815 tokens BBC
uses would give a 9.42 MB int8 file (9.7x) with no change to what the model computes on this
corpus.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: training shares 2 cores

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from distill_chain_breakdown import print_breakdown, print_remedy  # noqa: E402
from distill_chain_recipes import (  # noqa: E402
    ARTIFACTS,
    BATCH,
    INT8,
    SEQ,
    artifact_recipe,
    pruned_recipe,
    student_recipe,
    teacher_recipe,
)
from distill_common import run_job as run  # noqa: E402
from distill_minilm import timed_feeds  # noqa: E402
from quantize_minilm import cpu_flags  # noqa: E402

from engine.export.side_by_side import paired_speedup, percentiles, time_rounds  # noqa: E402

TRAIN_THREADS, TIMED_THREADS = 1, 2
TEACHER = "teacher fp32 (6 blocks)"
STUDENT = "student fp32 (3 blocks, KD)"
PRUNED = "pruned student fp32"
FINAL = "pruned student int8"
EXTRA = "pruned student int8 + int4 embeddings"
TARGETS = {"speed": 4.0, "size": 8.0, "accuracy": 0.99}


def fp32_row(card: dict) -> dict:
    """A trained link's row: the job's PyTorch evaluation, its exported fp32 file."""
    return {"accuracy": card["metrics"]["accuracy"], "params": card["model"]["params"],
            "path": card["onnx"]["path"]}  # fmt: skip


def artifact_rows(card: dict, names: list[str], prefix: str) -> dict[str, dict]:
    """The artifact steps' files (the card lists the fp32 file first, then the steps in order)."""
    files = card["artifacts"][1:]
    if len(files) != len(names):
        raise SystemExit(f"{card['name']}: {len(files)} artifact files for {len(names)} steps")
    rows = {}
    for name, art in zip(names, files, strict=True):
        if art.get("error"):
            print(f"   {prefix} {name}: {art['error']}")
            continue
        rows[f"{prefix} {name}"] = {"accuracy": art["metrics"]["accuracy"],
                                    "params": card["model"]["params"], "path": art["path"]}
    return rows


def chain(args: argparse.Namespace, steps: int, ws: Path) -> dict[str, dict]:
    """Run every link in `ws`; the table's rows in order."""
    teacher = run("1 teacher", teacher_recipe(steps, args.quick), ws)
    student = run("2 student", student_recipe(teacher["run_id"], steps, args.quick), ws)
    pruned = run("3 pruned", pruned_recipe(student["run_id"], teacher["run_id"], args.amount,
                                           steps, args.quick), ws)  # fmt: skip
    rows = {TEACHER: fp32_row(teacher), STUDENT: fp32_row(student), PRUNED: fp32_row(pruned)}
    files = run("4 artifacts", artifact_recipe("chain-artifacts", pruned["run_id"],
                                               list(ARTIFACTS.values()), args.quick), ws)  # fmt: skip
    rows.update(artifact_rows(files, list(ARTIFACTS), "pruned student"))
    if not args.no_teacher_int8:
        ref = run("5 teacher int8", artifact_recipe("chain-teacher-int8", teacher["run_id"],
                                                    [INT8], args.quick), ws)  # fmt: skip
        rows.update(artifact_rows(ref, ["int8"], "teacher"))
    return rows


def measure(rows: dict[str, dict], rounds: int) -> None:
    """Size, p50 and paired speed-up of every row, timed side by side (in place)."""
    torch.set_num_threads(TIMED_THREADS)
    times = time_rounds({n: r["path"] for n, r in rows.items()}, timed_feeds(), runs=rounds,
                        warmup=3, threads=TIMED_THREADS)  # fmt: skip
    t = rows[TEACHER]
    t["size"] = os.path.getsize(t["path"])
    for name, row in rows.items():
        row["size"] = os.path.getsize(row["path"])
        row["p50"], row["p95"] = percentiles(times[name])
        row["faster"] = paired_speedup(times[TEACHER], times[name])
        row["smaller"] = t["size"] / row["size"]
        row["of_teacher"] = row["accuracy"] / t["accuracy"]


def verdicts(row: dict) -> str:
    checks = [(f">= {TARGETS['speed']:g}x faster", row["faster"] >= TARGETS["speed"]),
              (f">= {TARGETS['size']:g}x smaller", row["smaller"] >= TARGETS["size"]),
              (f">= {TARGETS['accuracy']:.0%} of teacher", row["of_teacher"] >= TARGETS["accuracy"])]  # fmt: skip
    return ", ".join(f"{c} {'met' if ok else 'NOT met'}" for c, ok in checks)


def print_table(rows: dict[str, dict], rounds: int) -> None:
    print(f"\nBBC validation accuracy; ORT batch {BATCH} x {SEQ} tokens, {TIMED_THREADS} threads, "
          f"{rounds} interleaved rounds")  # fmt: skip
    print(f"   {'row':<42}{'accuracy':>9}{'% teacher':>10}{'params':>12}{'file MB':>9}"
          f"{'smaller':>8}{'p50 ms':>8}{'p95 ms':>8}{'faster':>8}")  # fmt: skip
    for name, r in rows.items():
        print(f"   {name:<42}{r['accuracy']:>9.2%}{r['of_teacher']:>10.1%}{r['params']:>12,}"
              f"{r['size'] / 1e6:>9.2f}{r['smaller']:>7.2f}x{r['p50']:>8.1f}{r['p95']:>8.1f}"
              f"{r['faster']:>7.2f}x")  # fmt: skip
    print("\nTargets (issue 10: >= 4x faster, >= 8x smaller file, >= 99% of the fp32 teacher):")
    for name, r in rows.items():
        if name.startswith("pruned student ") and name != PRUNED:
            print(f"   {name}: {verdicts(r)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=80, help="training steps of each trained link")
    ap.add_argument("--amount", type=float, default=0.5, help="fraction of FFN neurons cut")
    ap.add_argument("--quick", action="store_true", help="6 steps on 300 samples (checks the script)")
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds (each runs every file)")
    ap.add_argument("--no-teacher-int8", action="store_true", help="skip the reference row")
    ap.add_argument("--workspace", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args(argv)
    steps = 6 if args.quick else args.steps
    rounds = 5 if args.quick else args.rounds
    torch.set_num_threads(TRAIN_THREADS)
    start = time.perf_counter()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="bench-distill-chain-"))
    print(f"CPU: {cpu_flags()}; {os.cpu_count()} cores; training {TRAIN_THREADS} thread, timing "
          f"{TIMED_THREADS}; {steps} steps a link, batch 16; FFN cut {args.amount:.0%}; "
          f"workspace {ws}", flush=True)  # fmt: skip
    rows = chain(args, steps, ws)
    measure(rows, rounds)
    print_table(rows, rounds)
    if FINAL in rows:
        parts = print_breakdown(FINAL, Path(rows[FINAL]["path"]))
        if EXTRA in rows:
            print_breakdown(EXTRA, Path(rows[EXTRA]["path"]))
        print_remedy(Path(rows[FINAL]["path"]), parts, hidden=384, seq=SEQ)
    print(f"\n   whole bench: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
