"""The machine's measured peaks: positive, consistent with the ridge, at the asked thread count."""

from __future__ import annotations

import torch

from engine.analysis.machine_peak import copy_gbps, machine_peak, matmul_gflops


def test_machine_peak_measures_both_peaks_with_the_threads_asked_and_restores_torch():
    before = torch.get_num_threads()
    m = machine_peak("cpu", threads=1)
    assert torch.get_num_threads() == before
    assert m["threads"] == 1 and m["device"] == "cpu" and m["cpu"]
    assert m["matmul_gflops"] > 0.1 and m["copy_gbps"] > 0.05
    assert abs(m["ridge_flops_per_byte"] - m["matmul_gflops"] / m["copy_gbps"]) < 0.05


def test_a_bigger_matmul_does_more_flops_per_second_than_a_copy_moves_bytes():
    # a dense matmul reuses each loaded number n times: any CPU does more flops per second
    # than a stream copy moves bytes, which is what makes the ridge above 1 flop/byte
    assert matmul_gflops(torch.device("cpu"), n=512, repeats=2) > copy_gbps(
        torch.device("cpu"), mb=32, repeats=2)
