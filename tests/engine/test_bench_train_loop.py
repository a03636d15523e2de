"""bench/train_loop.py compares like with like: its hand-written loop and the engine's fine_tune
end with the same weights from the same start (fp32 and bf16 autocast on CPU), and the step
clock hears both at the same steps. The GPU benches end in one line without CUDA."""

from __future__ import annotations

import copy

import pytest
import torch

from bench import gpu_train_setup, train_loop
from bench.train_common import StepClock, run_engine, token_blocks
from engine.recipe import TrainConfig
from tests.engine.train.common import CPU, tiny_gpt


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_hand_loop_and_engine_loop_do_the_same_steps(precision):
    train, val = token_blocks(32, 16, 258), token_blocks(8, 16, 258, seed=1)
    cfg = TrainConfig(max_steps=3, batch_size=8, lr=3e-3, eval_every=10**9, eval_batches=1,
                      log_every=2, device="cpu", precision=precision)  # fmt: skip
    engine, hand = tiny_gpt(), tiny_gpt()
    start = copy.deepcopy(engine.state_dict())
    engine_clock, hand_clock = StepClock(1, 3, CPU), StepClock(1, 3, CPU)
    losses = run_engine(engine, train, val, cfg, CPU, engine_clock)
    train_loop.hand_loop(hand, train, cfg, CPU, hand_clock)
    a, b = engine.state_dict(), hand.state_dict()
    assert any(not torch.equal(a[k], start[k]) for k in a)  # both trained
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert [s for s, _ in losses] == [2, 3]  # the engine's curve at its log steps
    assert engine_clock.ms_per_step() > 0 and hand_clock.ms_per_step() > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
@pytest.mark.parametrize("bench", [gpu_train_setup, train_loop])
def test_gpu_bench_without_cuda_says_so_in_one_line(bench, capsys):
    assert bench.main(["--device", "cuda"]) == 2
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and "no CUDA device" in out
