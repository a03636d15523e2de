"""Energy per inference and cost per million inferences, labelled measured or estimated.

Sources, best first:
- GPU: NVML (the `pynvml` module of nvidia-ml-py, an optional extra): the board's total
  energy counter (mJ, Volta and later) read before and after the timed runs, else its power
  sampled every 10 ms during them. Label "measured".
- CPU: RAPL counters under /sys/class/powercap (intel-rapl:N/energy_uj, microjoules, also
  on AMD), when this user may read them (most kernels since 2020 make them root-only).
  They count the whole package, so anything else running at the time is in the reading.
  The counters wrap at max_energy_range_uj. Label "measured".
- Otherwise an estimate: the CPU time the process used per inference x a power figure per
  busy core (on a GPU without NVML: the wall time x the board's power figure). Label
  "estimated", source "estimate": nothing was measured but time.

One inference is one sample (a row of the batch), so batching shows up as cheaper inferences.
Cost per million = price_per_hour x seconds per inference x 1e6 / 3600 (the machine is
paid by the hour, busy or not).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POWERCAP_ROOT = Path("/sys/class/powercap")
# Estimate figures, both configurable: a busy server core with its share of the uncore
# (a 32-core 200 W part is ~6 W/core, an 8-core 65 W desktop ~8), and a mid-range board.
DEFAULT_WATTS_PER_CORE = 8.0
DEFAULT_GPU_WATTS = 300.0
# On-demand cloud prices per hour, configurable: an 8-vCPU VM, a one-GPU instance.
DEFAULT_PRICE_PER_HOUR = {"cpu": 0.40, "cuda": 3.00}
MIN_SECONDS = 1.0  # run at least this long: energy counters tick every few ms (NVML ~every 100)
_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")


def cost_per_million(price_per_hour: float, seconds_per_inference: float) -> float:
    """Cost of a million inferences on a machine paid `price_per_hour` (any currency)."""
    return price_per_hour * seconds_per_inference * 1e6 / 3600.0


class Rapl:
    """The readable top-level RAPL zones (packages) under a powercap directory.

    Sub-zones (intel-rapl:0:0 core, :0:1 uncore) are inside their package and are not added
    again; a "psys" zone (whole platform) overlaps the packages, so it is used only when
    no package zone is readable.
    """

    def __init__(self, root: str | Path = POWERCAP_ROOT):
        zones = [z for z in sorted(Path(root).glob("intel-rapl:*")) if _TOP_ZONE.match(z.name)]
        readable = [z for z in zones if _readable(z)]
        packages = [z for z in readable if _zone_name(z).startswith("package")]
        self.zones = packages or readable

    @property
    def available(self) -> bool:
        """True when at least one zone's counter can be read."""
        return bool(self.zones)

    def read(self) -> dict[Path, int]:
        """{zone: energy_uj now}."""
        return {z: int((z / "energy_uj").read_text().strip()) for z in self.zones}

    def joules(self, before: dict[Path, int], after: dict[Path, int]) -> float:
        """Energy between two reads, summed over zones; a counter that wrapped (after <
        before) went up to max_energy_range_uj and started again from 0."""
        total = 0
        for zone, start in before.items():
            end = after[zone]
            if end < start:
                end += int((zone / "max_energy_range_uj").read_text().strip())
            total += end - start
        return total / 1e6


def _readable(zone: Path) -> bool:
    try:
        int((zone / "energy_uj").read_text().strip())
        int((zone / "max_energy_range_uj").read_text().strip())
    except (OSError, ValueError):  # root-only counters raise PermissionError
        return False
    return True


def _zone_name(zone: Path) -> str:
    try:
        return (zone / "name").read_text().strip()
    except OSError:
        return ""


def nvml_handle(gpu_index: int = 0) -> Any | None:
    """An NVML device handle, or None when nvidia-ml-py is not installed or NVML cannot
    start (no driver): the caller then estimates."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetHandleByIndex(int(gpu_index))
    except Exception:  # pynvml.NVMLError and its many subclasses
        return None


class _PowerSampler(threading.Thread):
    """Samples NVML power (mW) every 10 ms until stopped; mean watts over the samples."""

    def __init__(self, handle: Any):
        super().__init__(daemon=True)
        self.handle, self.samples, self.stop = handle, [], threading.Event()

    def run(self) -> None:
        import pynvml

        while not self.stop.is_set():
            self.samples.append(pynvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0)
            self.stop.wait(0.01)

    def watts(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0


def _total_energy_mj(handle: Any) -> int | None:
    import pynvml

    try:
        return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
    except Exception:  # NotSupported before Volta
        return None


def timed_runs(run_once: Callable[[], Any], runs: int, min_seconds: float) -> tuple[int, float, float]:
    """Call run_once at least `runs` times and for at least `min_seconds`:
    (calls, wall seconds, CPU seconds of this process, all its threads)."""
    n, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while n < runs or time.perf_counter() - wall0 < min_seconds:
        run_once()
        n += 1
    return n, time.perf_counter() - wall0, time.process_time() - cpu0


def _measure(run_once: Callable[[], Any], runs: int, min_seconds: float, device: str,
             rapl: Rapl, gpu_index: int) -> tuple[str, float | None, int, float, float]:  # fmt: skip
    """(source, joules or None when nothing measured, calls, wall s, CPU s)."""
    handle = nvml_handle(gpu_index) if device == "cuda" else None
    if handle is not None:
        start = _total_energy_mj(handle)
        sampler = None if start is not None else _PowerSampler(handle)
        if sampler is not None:
            sampler.start()
        n, wall, cpu = timed_runs(run_once, runs, min_seconds)
        if sampler is not None:
            sampler.stop.set()
            sampler.join()
            return "nvml", sampler.watts() * wall, n, wall, cpu
        return "nvml", (_total_energy_mj(handle) - start) / 1000.0, n, wall, cpu
    if device != "cuda" and rapl.available:
        before = rapl.read()
        n, wall, cpu = timed_runs(run_once, runs, min_seconds)
        return "rapl", rapl.joules(before, rapl.read()), n, wall, cpu
    n, wall, cpu = timed_runs(run_once, runs, min_seconds)
    return "estimate", None, n, wall, cpu


def energy_reading(
    artifact: str,
    run_once: Callable[[], Any],
    runs: int = 20,
    *,
    batch: int = 1,
    device: str = "cpu",
    watts: float | None = None,
    price_per_hour: float | None = None,
    min_seconds: float = MIN_SECONDS,
    powercap_root: str | Path = POWERCAP_ROOT,
    gpu_index: int = 0,
) -> dict[str, Any]:
    """Energy and cost of one artifact: the profile record's "energy" entry.

    `run_once()` runs one forward of `batch` samples (latency_sweep.torch_call / onnx_call
    make one); it is called at least `runs` times and for at least `min_seconds`. `device`
    "cuda" reads NVML (GPU `gpu_index` in NVML's order, nvidia-smi's), "cpu" reads RAPL under `powercap_root`; without
    either, the estimate uses `watts`: per busy CPU core on CPU (default
    DEFAULT_WATTS_PER_CORE), the board's power on GPU (DEFAULT_GPU_WATTS). `price_per_hour`
    defaults to DEFAULT_PRICE_PER_HOUR[device]. Returns {"artifact", "source":
    "nvml"|"rapl"|"estimate", "label": "measured"|"estimated", "watts",
    "joules_per_inference", "price_per_hour", "cost_per_million"}; an inference is a sample.
    """
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    source, joules, n, wall, cpu = _measure(run_once, runs, min_seconds, device,
                                            Rapl(powercap_root), gpu_index)  # fmt: skip
    if joules is None or joules <= 0:  # nothing measured (or a counter that did not tick)
        source = "estimate"
        if device == "cuda":
            joules = (DEFAULT_GPU_WATTS if watts is None else watts) * wall
        else:
            joules = (DEFAULT_WATTS_PER_CORE if watts is None else watts) * cpu
    price = DEFAULT_PRICE_PER_HOUR[device] if price_per_hour is None else price_per_hour
    samples = n * batch
    return {"artifact": artifact, "source": source,
            "label": "estimated" if source == "estimate" else "measured",
            "watts": joules / wall if wall > 0 else 0.0,
            "joules_per_inference": joules / samples, "price_per_hour": price,
            "cost_per_million": cost_per_million(price, wall / samples)}  # fmt: skip
