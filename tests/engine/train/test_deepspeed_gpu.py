"""DeepSpeed on a CUDA GPU (skipped without the `deepspeed` package or CUDA): ZeRO-2 on one
GPU trains a tiny-gpt like plain fp32 training on that GPU; ZeRO-3's unwrap gives back the full
weights as a plain module; a deepspeed recipe runs from the CLI with its config in the run
folder, and `workbench-cli launch --print` shows the JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from engine.recipe import TrainConfig
from tests.engine.conftest import TINY_RECIPE
from tests.engine.train.common import tiny_gpt, train, values

pytest.importorskip("deepspeed")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

BASE = TrainConfig(epochs=1, max_steps=4, batch_size=8, lr=3e-3, eval_every=10**6,
                   eval_batches=1, log_every=1, grad_accum_steps=2, clip_grad_norm=1.0,
                   device="cuda")  # fmt: skip
CUDA = torch.device("cuda")
ROOT = Path(__file__).resolve().parents[3]


def _train(module, cfg):
    return train(module, cfg, device=CUDA)[1]


@pytest.fixture
def nccl_world(monkeypatch):
    """The strategy starts an nccl world of one itself; it is gone again after the test."""
    monkeypatch.setenv("LOCAL_RANK", "0")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_zero2_on_one_gpu_trains_like_plain_fp32(nccl_world):
    ds, one = tiny_gpt(), tiny_gpt()
    metrics = _train(ds, dataclasses.replace(BASE, strategy="deepspeed", deepspeed_stage=2))
    metrics1 = _train(one, BASE)
    assert values(metrics, "train/loss") == pytest.approx(values(metrics1, "train/loss"), abs=1e-4)
    a, b = ds.state_dict(), one.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    assert values(metrics, "memory/peak_mb")  # the GPU's peak, as for the other strategies


def test_zero3_unwrap_gives_the_full_weights(nccl_world):
    ds = tiny_gpt()
    shapes = {k: v.shape for k, v in ds.state_dict().items()}
    _train(ds, dataclasses.replace(BASE, strategy="deepspeed", deepspeed_stage=3,
                                   deepspeed_offload="optimizer"))  # fmt: skip
    state = ds.state_dict()
    assert {k: v.shape for k, v in state.items()} == shapes  # whole, not ZeRO-3's partitions
    assert all(v.dtype == torch.float32 and v.is_cuda for v in state.values())
    assert not any(hasattr(p, "ds_id") for p in ds.parameters())
    assert float(ds(torch.randint(0, 50, (2, 8), device=CUDA)).float().abs().sum()) > 0


def test_bf16_and_fp16_steps_run_and_report(nccl_world):
    for precision in ("bf16", "fp16"):
        metrics = _train(tiny_gpt(), dataclasses.replace(BASE, strategy="deepspeed",
                                                         precision=precision))  # fmt: skip
        losses = values(metrics, "train/loss")
        assert len(losses) == 4 and all(v == v for v in losses)
        if precision == "fp16":  # DeepSpeed's dynamic loss scale, as the fp16 plot expects
            assert values(metrics, "train/loss_scale")[0] > 1


def test_a_deepspeed_recipe_runs_from_the_cli_with_its_config_in_the_run_folder(tmp_path):
    recipe = tmp_path / "ds.yaml"
    recipe.write_text(TINY_RECIPE.replace("methods:\n  - {type: unstructured_prune, amount: 0.5, "
                                          "scope: global}\n", "").replace(
        "epochs: 1", "epochs: 1, strategy: deepspeed, device: cuda, precision: bf16"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(recipe), "-w",
                           str(tmp_path / "ws"), "-q"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = list((tmp_path / "ws").rglob("deepspeed_config.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["bf16"] == {"enabled": True}
    printed = subprocess.run([sys.executable, "-m", "engine.cli", "launch", str(recipe),
                              "--nproc-per-node", "1", "--print"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert '"zero_optimization"' in printed.stdout
