"""This machine's measured peaks: dense matmul GFLOP/s, memory-copy GB/s, and their ratio.

The ratio (the roofline's ridge point, in flops per byte) is what a layer's arithmetic
intensity is judged against: below it the layer cannot keep the arithmetic units busy and
is memory-bound, above it compute-bound. Both peaks are measured, not looked up, with the
thread count the profile uses, in well under a second: a few square fp32 matmuls and a few
copies of a tensor larger than the caches, best of N (the least disturbed run).
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

MATMUL_N = 1024  # 2.1 GFLOP per product: long enough to time, short enough for one core
COPY_MB = 64  # larger than any CPU's last-level cache, so the copy streams from memory
REPEATS = 3
CUDA_MATMUL_N, CUDA_COPY_MB = 4096, 256  # ~3 ms and ~0.2 ms on a current data-centre GPU


@contextmanager
def torch_threads(threads: int) -> Iterator[int]:
    """Run the block with `threads` intra-op threads (0: leave torch's setting); yields the count."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _best_seconds(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Fastest of `repeats` timed calls after one warm-up (CUDA: synchronised)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return max(best, 1e-9)


def matmul_gflops(device: torch.device, n: int = MATMUL_N, repeats: int = REPEATS) -> float:
    """Achieved GFLOP/s of an n x n fp32 matmul (2 n^3 flops)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    out = torch.empty(n, n, device=device)
    seconds = _best_seconds(lambda: torch.mm(a, b, out=out), device, repeats)
    return 2.0 * n**3 / seconds / 1e9


def copy_gbps(device: torch.device, mb: int = COPY_MB, repeats: int = REPEATS) -> float:
    """Achieved GB/s of copying a `mb` MB fp32 tensor, counting the read and the write."""
    src = torch.ones(mb * 1_000_000 // 4, device=device)
    dst = torch.empty_like(src)
    seconds = _best_seconds(lambda: dst.copy_(src), device, repeats)
    return 2.0 * src.numel() * 4 / seconds / 1e9


def cpu_name() -> str:
    """The processor's model name where the system says it, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware")):  # x86; some ARM boards
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=8)
def _measure(device_text: str, threads: int) -> tuple[float, float, int]:
    device = torch.device(device_text)
    with torch_threads(threads) as used:
        if device.type == "cuda":  # a GPU finishes the CPU sizes in microseconds: too short to time
            return matmul_gflops(device, n=CUDA_MATMUL_N), copy_gbps(device, mb=CUDA_COPY_MB), used
        return matmul_gflops(device), copy_gbps(device), used


def machine_peak(device: torch.device | str = "cpu", threads: int = 0) -> dict[str, Any]:
    """The profile record's `machine` entry: device, cpu, threads, the two peaks and the ridge.

    Measured once per process for each (device, threads): the peaks are the machine's, and a
    second profile in the same session should judge against the same numbers.
    """
    device = torch.device(device)
    gflops, gbps, used = _measure(str(device), int(threads))
    return {
        # a GPU's name with its device, so a stored profile says which card it was
        "device": f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
        else str(device),
        "cpu": cpu_name(),
        "threads": used,
        "matmul_gflops": round(gflops, 2),
        "copy_gbps": round(gbps, 2),
        "ridge_flops_per_byte": round(gflops / gbps, 2) if gbps > 0 else None,
    }
