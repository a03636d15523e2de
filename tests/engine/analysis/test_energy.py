"""Energy readings: RAPL counters (on a powercap tree written in the kernel's format),
the estimate when nothing can be measured, and the cost formula."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.analysis.energy import (
    DEFAULT_GPU_WATTS,
    Rapl,
    cost_per_million,
    energy_reading,
    nvml_handle,
)

MAX_RANGE = 262143328850  # a real package's max_energy_range_uj


def zone(root: Path, name: str, label: str, uj: int) -> Path:
    """One powercap zone directory as the kernel lays it out."""
    z = root / name
    z.mkdir(parents=True)
    (z / "name").write_text(label + "\n")
    (z / "energy_uj").write_text(f"{uj}\n")
    (z / "max_energy_range_uj").write_text(f"{MAX_RANGE}\n")
    return z


@pytest.fixture
def powercap(tmp_path):
    root = tmp_path / "powercap"
    (root / "intel-rapl").mkdir(parents=True)  # the control type: no counter of its own
    pkg = zone(root, "intel-rapl:0", "package-0", 1_000_000)
    zone(root, "intel-rapl:0:0", "core", 500_000)  # inside package-0: not added again
    zone(root, "intel-rapl:1", "psys", 9_000_000)  # overlaps the package: left out
    return root, pkg


def test_rapl_reads_package_zones_only_and_handles_wraparound(powercap):
    root, pkg = powercap
    rapl = Rapl(root)
    assert rapl.available and rapl.zones == [pkg]
    before = rapl.read()
    (pkg / "energy_uj").write_text(f"{1_000_000 + 2_500_000}\n")
    assert rapl.joules(before, rapl.read()) == pytest.approx(2.5)
    # the counter wrapped: it went up to max_energy_range_uj, then from 0 to 300000
    (pkg / "energy_uj").write_text(f"{MAX_RANGE - 200_000}\n")
    before = rapl.read()
    (pkg / "energy_uj").write_text("300000\n")
    assert rapl.joules(before, rapl.read()) == pytest.approx(0.5)


def test_psys_is_used_when_no_package_zone_is_readable(tmp_path):
    psys = zone(tmp_path, "intel-rapl:1", "psys", 7)
    assert Rapl(tmp_path).zones == [psys]
    assert not Rapl(tmp_path / "missing").available
    bad = zone(tmp_path / "b", "intel-rapl:0", "package-0", 0)
    (bad / "energy_uj").write_text("")  # what a counter this user may not read gives here
    assert not Rapl(tmp_path / "b").available


def test_rapl_reading_is_measured(powercap):
    root, pkg = powercap

    def run_once():  # the "hardware": each forward costs 0.4 J on the package counter
        uj = int((pkg / "energy_uj").read_text())
        (pkg / "energy_uj").write_text(f"{uj + 400_000}\n")

    r = energy_reading("onnx-fp32", run_once, runs=10, batch=2, min_seconds=0,
                       powercap_root=root, price_per_hour=1.0)  # fmt: skip
    assert (r["source"], r["label"]) == ("rapl", "measured")
    assert r["joules_per_inference"] == pytest.approx(0.2)  # 0.4 J per batch of 2 samples
    assert r["artifact"] == "onnx-fp32" and r["price_per_hour"] == 1.0


def busy(seconds: float = 0.01):
    def run_once():
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
    return run_once


def test_no_counters_gives_an_estimate_labelled_estimated(tmp_path):
    r = energy_reading("pytorch", busy(), runs=5, min_seconds=0, watts=10.0,
                       powercap_root=tmp_path / "none")  # fmt: skip
    assert (r["source"], r["label"]) == ("estimate", "estimated")
    # one busy thread: 10 W per busy core x at most one core's CPU time per second of wall
    assert 0 < r["watts"] <= 10.0 * 1.1
    assert r["joules_per_inference"] == pytest.approx(10.0 * 0.01, rel=0.5)


@pytest.mark.skipif(nvml_handle() is not None, reason="NVML works here: the GPU is measured")
def test_gpu_without_nvml_is_estimated_from_wall_time(tmp_path):
    r = energy_reading("pytorch", busy(), runs=3, device="cuda", min_seconds=0)
    assert (r["source"], r["label"]) == ("estimate", "estimated")
    assert r["watts"] == pytest.approx(DEFAULT_GPU_WATTS)  # wall time x the board's figure


def test_cost_per_million_formula():
    # $3.60 an hour, 1 ms an inference: 1e6 inferences take 1000 s = $1.00
    assert cost_per_million(3.6, 0.001) == pytest.approx(1.0)
    r = energy_reading("x", busy(0.002), runs=4, batch=4, min_seconds=0, price_per_hour=3.6,
                       powercap_root="/nonexistent")  # fmt: skip
    seconds = r["joules_per_inference"] / r["watts"]  # seconds per inference (a sample)
    assert r["cost_per_million"] == pytest.approx(3.6 * seconds * 1e6 / 3600)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        energy_reading("x", busy(), device="tpu")
