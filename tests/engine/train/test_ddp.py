"""DDP under torchrun on CPU: 2 gloo processes train like 1 process on the same global batch,
and only rank 0 writes the run (real processes: workbench-cli run starts torchrun itself)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import BatchSampler

from engine.events import Finished, Metric, RankState
from engine.job import Job
from engine.models.loaders import load_model
from engine.recipe import ExportConfig, ModelSpec, Recipe
from engine.store import Workspace
from engine.train.loop import make_loader
from engine.train.strategy import DDP, RankBatches
from tests.engine.train.common import run_cli_events

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "assets" / "recipes" / "tiny-gpt-ddp.yaml"  # 50% magnitude, 2 processes x 8


def _recipe(**train) -> Recipe:
    """The shipped DDP recipe on less data and 3 steps, no export (tiny-gpt has no dropout:
    the same global batch gives the same gradient)."""
    r = Recipe.load(SHIPPED)
    return r.replace(
        data=dataclasses.replace(r.data, max_samples=40, max_length=16),
        train=dataclasses.replace(r.train, max_steps=3, lr=3e-3, log_every=1, eval_batches=1,
                                  **train),  # fmt: skip
        export=ExportConfig(enabled=False),
    )


def _weights(ws: Workspace, run_id: str) -> dict[str, torch.Tensor]:
    return load_file(ws.run_dir(run_id) / "checkpoint" / "model.safetensors")


def _comparable(name: str, t: torch.Tensor) -> torch.Tensor:
    """The tensor without the attention key bias: softmax ignores it, so its gradient is pure
    rounding noise, which Adam scales up to lr-sized steps in whatever direction the noise has."""
    if name.endswith("attn.qkv.bias"):
        n = t.numel() // 3
        return torch.cat([t[:n], t[2 * n :]])
    return t


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """One 2-process run (batch 8 per rank) through workbench-cli run --events-json."""
    return run_cli_events(_recipe().to_yaml(), tmp_path_factory.mktemp("ddp"))


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The same recipe in one process with batch 16 (= 2 × 8), in this process."""
    tmp = tmp_path_factory.mktemp("single")
    recipe = _recipe(batch_size=16, strategy="single")
    events: list = []
    result = Job(recipe, [events.append], workspace=tmp / "ws").run()
    assert result.ok, result.error
    return Workspace(tmp / "ws"), result.run_id, events


def test_two_processes_of_8_train_like_one_of_16(ddp_run, single_run):
    ws, events, _ = ddp_run
    ws1, run1, events1 = single_run
    finished = [e for e in events if isinstance(e, Finished)]
    assert len(finished) == 1  # rank 0 alone speaks
    a, b = _weights(ws, finished[0].run_id), _weights(ws1, run1)
    assert a.keys() == b.keys()
    # float sums in another order (two halves all-reduced), magnified a little by Adam
    assert all(torch.allclose(_comparable(k, a[k]), _comparable(k, b[k]), atol=2e-4) for k in a)
    # ... equal because both trained alike, not because neither did (layer norms: unpruned)
    fresh = load_model(ModelSpec(source="builtin", path="tiny-gpt")).module.state_dict()
    assert max(float((a[k] - fresh[k]).abs().max()) for k in a if ".ln" in k) > 1e-3
    assert a["blocks.0.mlp.fc.weight"].eq(0).float().mean() > 0.2  # the masks held under DDP
    # the reported loss is the mean over both ranks' halves: the single process's curve
    loss = [e.value for e in events if isinstance(e, Metric) and e.name == "train/loss"]
    loss1 = [e.value for e in events1 if isinstance(e, Metric) and e.name == "train/loss"]
    assert len(loss) == 3 and loss == pytest.approx(loss1, abs=1e-4)


def test_only_rank_0_registers_one_run_and_its_card_says_ddp(ddp_run):
    ws, events, proc = ddp_run
    # the run and the baseline it is compared with, each once
    base, run = sorted(ws.variants(), key=lambda v: v.parent is not None)
    assert run.parent == base.id and {base.status, run.status} == {"finished"}
    train = run.card["train"]
    assert train["strategy"] == "ddp" and train["world_size"] == 2
    assert train["micro_batch"] == 8 and train["global_batch"] == 16
    assert train["steps"] == 3 and run.card["sparsity"]["overall"] == pytest.approx(0.5, abs=0.01)
    # the relay printed only events (rank 1 is silent), each one a JSON line
    assert all(json.loads(line)["event"] for line in proc.stdout.splitlines() if line.strip())
    assert len(list((ws.root / "runs").iterdir())) == 2


def test_rank_0_reports_a_row_for_each_rank_at_every_report_step(ddp_run):
    _ws, events, _ = ddp_run
    rows = [e for e in events if isinstance(e, RankState)]
    # log_every 1 over 3 steps: both ranks' own numbers, gathered at each report
    assert [(r.rank, r.step) for r in rows] == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)]
    assert all(r.world == 2 and r.state == "running" and r.device == "cpu" and r.host for r in rows)
    assert all(r.samples_per_s > 0 and r.tokens_per_s > r.samples_per_s for r in rows)
    assert all(r.peak_mb > 50 for r in rows)  # each process's own peak RSS (torch alone is more)
    # each rank's throughput is its own half: the world's samples/s is about their sum
    world = [e.value for e in events if isinstance(e, Metric) and e.name == "throughput/samples_per_s"]
    assert world[-1] == pytest.approx(rows[-2].samples_per_s + rows[-1].samples_per_s, rel=0.5)


def test_each_rank_takes_its_share_of_the_single_process_global_batches():
    data = list(range(19))
    one = [b.tolist() for b in make_loader(data, 8, True, 7)]
    ranks = []
    for r in (0, 1):  # DDP's sampler without a process group: only its rank and world matter
        strategy = DDP.__new__(DDP)
        strategy.rank, strategy.world_size = r, 2
        ranks.append([b.tolist() for b in make_loader(data, 4, True, 7, strategy)])
    # global batches of 8 in the single-process order, rank r taking every 2nd from r;
    # the last (3 left) splits 2 + 1
    assert len(ranks[0]) == len(ranks[1]) == len(one) == 3
    for step, batch in enumerate(one):
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(batch)
        assert ranks[0][step] == batch[0::2] and ranks[1][step] == batch[1::2]
    # a last global batch smaller than the world is dropped (a rank would get nothing)
    assert len(RankBatches(BatchSampler(range(17), 8, False), 0, 2)) == 2
    assert list(RankBatches(BatchSampler(range(17), 8, False), 1, 2))[-1] == [9, 11, 13, 15]
