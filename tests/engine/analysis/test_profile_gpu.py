"""The profile on CUDA (skipped without a GPU): synchronised per-layer times, the peak from
max_memory_allocated, CUDA operator times, and the machine's GPU peaks."""

from __future__ import annotations

import pytest
import torch

from engine.analysis.profile import ProfileConfig, run_profile

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_profile_of_a_model_on_cuda():
    from engine.models.builtin import load_builtin

    loaded = load_builtin("tiny-gpt", pretrained=False)
    loaded.module.to("cuda")
    cfg = ProfileConfig(batch=4, seq=64, runs=3, sweep_batches=(1, 4), sweep_seqs=(64,),
                        sweep_runs=3, energy_seconds=0.2)  # fmt: skip
    record = run_profile(loaded, cfg)
    assert record["settings"]["device"].startswith("cuda")
    assert record["machine"]["device"].startswith("cuda")
    assert record["machine"]["matmul_gflops"] > record["machine"]["copy_gbps"] > 0
    assert record["memory"]["peak_source"] == "cuda"
    # the logits alone: batch x seq x vocab floats, alive at the end of the forward
    assert record["memory"]["activation_peak_mb"] * 1e6 >= 4 * 64 * 258 * 4
    assert record["op_types"] and all(o["time_ms"] >= 0 for o in record["op_types"])
    assert sum(r["flops"] for r in record["layers"]) == record["model"]["flops"]
    layers_ms = sum(r["time_ms"] for r in record["layers"])
    assert layers_ms > 0 and record["whole_ms"] > 0
    print(f"cuda: whole {record['whole_ms']:.3f} ms, layers {layers_ms:.3f} ms, "
          f"peak {record['memory']['activation_peak_mb']:.2f} MB, "
          f"energy {record['energy'][0]['source']}")
