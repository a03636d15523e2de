"""Int8 on a real model: MiniLM (all-MiniLM-L6-v2) sentence embeddings, all rows in one run.

Rows: PyTorch fp32 eager, onnxruntime fp32, onnxruntime quantize_dynamic with its defaults
and with per-channel weights (the plain toolchain), then the workbench's int8_dynamic step
called through its own handler: after the transformer fusions (the route the issue
suggested), and with its smooth_alpha option (activation smoothing on 16 BBC articles drawn
as the recipe's training split, then per-channel qint8 on the graph as exported; the best
found, alpha 0.7).

Latency at batch 8 x 128 tokens (real BBC articles), 2 threads (torch.set_num_threads and
onnxruntime intra-op), every row timed once per round in a shuffled order, round after
round, so all rows see the same load; onnxruntime sessions do not spin-wait (see
engine/export/side_by_side.py). Cosine: mean over 48 BBC sentences of the cosine between
each row's sentence embedding (mean pooling over the attention mask, sentences padded per
batch of 8) and onnxruntime fp32's.

Targets (issue 9): the workbench int8 >= 2.0x faster than onnxruntime fp32, >= 3.5x faster
than PyTorch, <= 23 MB on disk, mean cosine >= 0.995.

    .venv/bin/python bench/quantize_minilm.py [--rounds 30] [--keep DIR]

About a minute on 2 cores (export, four quantizations with smoothing, 30 rounds of six rows).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quantize_minilm_rows import (  # noqa: E402
    BEST_INT8,
    FUSED_INT8,
    INPUTS,
    calibration_data,
    export_fp32,
    load_minilm,
    mean_cosine,
    mean_pool,
    plain_dynamic,
    texts,
    workbench_int8,
)

from engine.export.side_by_side import timing_session  # noqa: E402

BATCH, SEQ, THREADS = 8, 128, 2
FUSED = "workbench int8 fused, per-channel"
BEST = "workbench int8 smoothed, per-channel"


def cpu_flags() -> str:
    """The CPU's int8 dot-product extensions: without VNNI, int8 gains little on x86."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return platform.processor() or "unknown"
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return " ".join(f for f in wanted if f in flags) or "no AVX2/VNNI"


def make_files(work: Path, encoder, tok, timed, calib) -> dict[str, Path]:  # noqa: ANN001
    fp32 = export_fp32(encoder, timed, work / "minilm.fp32.onnx")
    out = {"ORT fp32": fp32}
    out["ORT quantize_dynamic defaults"] = plain_dynamic(fp32, work / "dyn-default.onnx")
    out["ORT quantize_dynamic per_channel"] = plain_dynamic(
        fp32, work / "dyn-per-channel.onnx", per_channel=True
    )
    path, info = workbench_int8(fp32, work / "workbench-fused", FUSED_INT8, timed)
    print(f"   workbench fusions: {info['fused']}")
    out[FUSED] = path
    out[BEST], info = workbench_int8(fp32, work / "workbench-smoothed", BEST_INT8, timed,
                                     calibration_data(tok, calib))  # fmt: skip
    print(f"   workbench smoothing: {info['smoothing']}")
    return out


def embeddings(run, batches) -> np.ndarray:  # noqa: ANN001
    return np.concatenate([mean_pool(run(b), b["attention_mask"]) for b in batches])


def time_rows(runners: dict, rounds: int) -> dict[str, tuple[float, float, float]]:
    """{row: (p50 ms, p95 ms, median process CPU ms)}, rows shuffled in every round."""
    for run in runners.values():  # warm-up: first runs allocate and pack weights
        run()
        run()
    wall: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    order, rng = list(runners), random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            c0, t0 = time.process_time(), time.perf_counter()
            runners[name]()
            wall[name].append((time.perf_counter() - t0) * 1e3)
            cpu[name].append((time.process_time() - c0) * 1e3)
    return {k: (*np.percentile(wall[k], [50, 95]), statistics.median(cpu[k])) for k in runners}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds (each runs every row)")
    ap.add_argument("--keep", type=Path, default=None, help="write the ONNX files here")
    args = ap.parse_args(argv)
    torch.set_num_threads(THREADS)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-quant-minilm-"))
    work.mkdir(parents=True, exist_ok=True)
    encoder, tok = load_minilm()
    from transformers import AutoModel

    eager = AutoModel.from_pretrained(encoder.bert.name_or_path).eval()  # default attention
    sentences, articles, calib = texts()
    timed = dict(tok(articles, padding="max_length", truncation=True, max_length=SEQ,
                     return_tensors="np"))  # fmt: skip
    timed = {k: timed[k].astype(np.int64) for k in INPUTS}
    batches = [{k: v.astype(np.int64) for k, v in tok(sentences[i:i + BATCH], padding=True,
                return_tensors="np").items()} for i in range(0, len(sentences), BATCH)]  # fmt: skip
    print(f"CPU: {cpu_flags()}; {os.cpu_count()} cores; threads {THREADS}; files in {work}")
    files = make_files(work, encoder, tok, timed, calib)
    sessions = {k: timing_session(p, threads=THREADS) for k, p in files.items()}

    def ort_run(name: str):  # noqa: ANN202
        s = sessions[name]
        names = {i.name for i in s.get_inputs()}  # TorchScript drops unread inputs
        return lambda feeds=timed: s.run(None, {k: v for k, v in feeds.items() if k in names})[0]

    def torch_run(feeds=timed):  # noqa: ANN001, ANN202
        with torch.inference_mode():
            t = {k: torch.from_numpy(v) for k, v in feeds.items()}
            return eager(**t).last_hidden_state.numpy()

    runners = {"PyTorch fp32 eager": torch_run, **{k: ort_run(k) for k in files}}
    ref = embeddings(runners["ORT fp32"], batches)
    cosines = {k: mean_cosine(embeddings(r, batches), ref) for k, r in runners.items()}
    times = time_rows(runners, args.rounds)
    print_table(times, cosines, files, args.rounds)
    return 0


def print_table(times: dict, cosines: dict, files: dict, rounds: int) -> None:
    base, pt = times["ORT fp32"][0], times["PyTorch fp32 eager"][0]
    print(f"\nbatch {BATCH} x {SEQ} tokens, {THREADS} threads, {rounds} interleaved rounds; "
          f"cosine of mean-pooled embeddings vs ORT fp32 over 48 BBC sentences")  # fmt: skip
    print(f"   {'row':<38}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8}{'vs ORT':>8}{'vs PT':>7}"
          f"{'MB':>8}{'cosine':>8}")  # fmt: skip
    for k, (p50, p95, cpu) in times.items():
        size = os.path.getsize(files[k]) / 1e6 if k in files else float("nan")
        print(f"   {k:<38}{p50:>8.1f}{p95:>8.1f}{cpu:>8.1f}{base / p50:>7.2f}x{pt / p50:>6.2f}x"
              f"{size:>8.3f}{cosines[k]:>8.4f}")  # fmt: skip
    p50 = times[BEST][0]
    checks = [("vs ORT fp32 >= 2.0x", base / p50 >= 2.0), ("vs PyTorch >= 3.5x", pt / p50 >= 3.5),
              ("size <= 23 MB", os.path.getsize(files[BEST]) <= 23e6),
              ("cosine >= 0.995", cosines[BEST] >= 0.995)]  # fmt: skip
    print("   targets for the workbench int8: "
          + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks))
    print("   (cpu ms: CPU time of this process per run, all threads; less sensitive than the "
          "wall time to other processes on the cores)")


if __name__ == "__main__":
    raise SystemExit(main())
