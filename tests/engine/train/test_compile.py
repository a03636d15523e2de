"""train.compile: torch.compile for training, undone after; refused where it cannot run."""

from __future__ import annotations

import dataclasses

import pytest

from engine.recipe import Recipe, TrainConfig
from engine.train.device_checks import compile_problem
from tests.engine.train.common import tiny_gpt, train, values

CFG = TrainConfig(max_steps=2, batch_size=8, eval_every=10**6, eval_batches=1, log_every=1)


def test_compile_without_a_cpp_compiler_is_refused_naming_the_field(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no g++ / clang++ on it
    monkeypatch.delenv("CXX", raising=False)
    problem = compile_problem("cpu")
    assert problem and "C++ compiler" in problem
    errors = [str(e) for e in Recipe().replace(train=TrainConfig(compile=True, device="cpu")).errors()]
    assert errors == [f"train.compile: {problem}"]


@pytest.mark.slow  # inductor builds C++ kernels: minutes on a small shared CPU
def test_compiled_training_matches_eager_on_tiny_gpt():
    problem = compile_problem("cpu")
    if problem:
        pytest.skip(problem)
    compiled = tiny_gpt()
    stats, metrics = train(compiled, dataclasses.replace(CFG, compile=True))
    _, eager = train(tiny_gpt(), CFG)
    assert values(metrics, "train/loss") == pytest.approx(values(eager, "train/loss"), rel=1e-4)
    assert stats.setup["compile"] is True
    assert not any(k.startswith("_orig_mod") for k in compiled.state_dict())  # the plain module
