"""Peak memory of exporting a ~100M-parameter Llama through the engine's real export path.

    OMP_NUM_THREADS=2 .venv/bin/python bench/export_memory.py            # isolated, as the GUI
    OMP_NUM_THREADS=2 .venv/bin/python bench/export_memory.py --in-process  # as the CLI
    .venv/bin/python bench/export_memory.py --engine-root /tmp/old-checkout  # the old code

A child process builds a random transformers LlamaConfig model (hidden 768, 12 layers,
12 heads, 4 kv heads, intermediate 2048, vocab 32000: ~125M params, ~500 MB fp32) and
runs engine.export_variant.export_loaded on it, with or without the isolated export
child. This process samples the RSS of that child and all its descendants from /proc
every 20 ms, so the figure is what the machine had to hold at once, torch included
(tracemalloc does not see torch's allocations). Every log line the export writes marks
a stage; the table shows the peak seen during each. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- measuring (parent) ----------------------------------------------------------------
def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _anon(pid: int) -> int:
    """Resident memory not backed by a file: what the kernel cannot drop and re-read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss(pid: int) -> int:
    """Proportional set size: pages shared by parent and child (torch's libraries) count once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


class TreeSampler:
    """Peak RSS of a process and its descendants, overall and per stage."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.stage = "start"
        self.peak = self.peak_anon = self.peak_child = self.peak_pss = 0
        self.stages: dict[str, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            pids = _descendants(self.pid)
            rss = [_rss(p) for p in pids]
            total = sum(rss)
            self.peak = max(self.peak, total)
            self.peak_child = max(self.peak_child, sum(rss[1:]))  # the isolated export child
            self.peak_anon = max(self.peak_anon, sum(_anon(p) for p in pids))
            self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in pids))
            self.stages[self.stage] = max(self.stages.get(self.stage, 0), total)
            time.sleep(self.interval)


def _stage_name(msg: str) -> str:
    """A log line cut to its stable part (numbers vary between runs)."""
    return msg.split(":", 1)[0][:40] if ":" in msg else msg[:40]


def measure(args: argparse.Namespace) -> dict:
    """Run the child, sample its tree, return the figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(args.engine_root).resolve())
    env.setdefault("OMP_NUM_THREADS", "2")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *sys.argv[1:]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    sampler = TreeSampler(proc.pid)
    sampler.thread.start()
    info: dict = {}
    order: list[str] = []
    for line in proc.stdout:
        if line.startswith("INFO "):
            info.update(json.loads(line[5:]))
        elif line.startswith("STAGE "):
            sampler.stage = _stage_name(line[6:].strip())
            if sampler.stage not in order:
                order.append(sampler.stage)
            if args.verbose:
                print(line.rstrip(), flush=True)
    code = proc.wait()
    sampler.done.set()
    sampler.thread.join()
    if code != 0 or "model_bytes" not in info:
        raise SystemExit(f"the export child failed with code {code}")
    size = info["model_bytes"]
    before, before_anon = info["rss_before_export"], info["anon_before_export"]
    print(f"model: {info['params'] / 1e6:.1f}M params, {size / 1e6:.0f} MB fp32; "
          f"RSS before export {before / 1e6:.0f} MB; export took {info['seconds']:.0f} s")
    for name in order:
        peak = sampler.stages.get(name, 0)
        if not peak:
            continue  # over before a sample was taken
        print(f"  {peak / 1e6:8.0f} MB  {peak / size:5.2f}x  {name}")
    return {
        "engine_root": str(args.engine_root), "isolate": not args.in_process,
        "params": info["params"], "model_bytes": size, "peak_rss": sampler.peak,
        "peak_ratio": round(sampler.peak / size, 2),
        "export_extra_ratio": round((sampler.peak - before) / size, 2),
        "anon_extra_ratio": round((sampler.peak_anon - before_anon) / size, 2),
        "pss_extra_ratio": round((sampler.peak_pss - info["pss_before_export"]) / size, 2),
        "child_peak_ratio": round(sampler.peak_child / size, 2),
        "rss_before_export": before, "seconds": round(info["seconds"], 1),
    }


# -- the exporting child ---------------------------------------------------------------
def build_llama(args: argparse.Namespace):  # -> LoadedModel
    """A randomly initialised Llama wrapped as the engine's loaders wrap a HF folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.models.hf import wrap_hf

    config = LlamaConfig(
        hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, intermediate_size=args.intermediate,
        vocab_size=args.vocab, max_position_embeddings=512, tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).float().eval()
    return wrap_hf(model, "causal-lm", None, "hf", "bench-llama", {})


def child(args: argparse.Namespace) -> int:
    """Build the model, then export it the way a job does; report on stdout."""
    from engine.export_variant import export_loaded
    from engine.recipe import ExportConfig

    def say(kind: str, payload: str) -> None:
        print(f"{kind} {payload}", flush=True)

    loaded = build_llama(args)
    params = sum(p.numel() for p in loaded.module.parameters())
    size = sum(p.numel() * p.element_size() for p in loaded.module.parameters())
    rss, anon = _rss(os.getpid()), _anon(os.getpid())
    say("INFO", json.dumps({"params": params, "model_bytes": size, "rss_before_export": rss,
                            "anon_before_export": anon, "pss_before_export": _pss(os.getpid())}))
    say("STAGE", "export starts")
    cfg = ExportConfig(opset=args.opset, parity_batches=2, latency_runs=3, latency_seq=32)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    export_loaded(loaded, None, out / "model.onnx", cfg, log=lambda m: say("STAGE", m),
                  isolate=not args.in_process)  # fmt: skip
    say("INFO", json.dumps({"seconds": time.monotonic() - start}))
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--in-process", action="store_true", help="export without the child process")
    ap.add_argument("--engine-root", default=str(ROOT), help="checkout whose engine to measure")
    ap.add_argument("--out", default="/tmp/export-memory-bench", help="folder for model.onnx")
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--verbose", action="store_true", help="echo the export's log lines")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.child:
        return child(args)
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
