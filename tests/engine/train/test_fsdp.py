"""FSDP (FSDP2 fully_shard) under torchrun on CPU: 2 gloo processes, each holding half of every
parameter, train like 1 process on the same global batch; only rank 0 writes the run and its
checkpoint is the full model (gathered before save)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.events import Finished, Metric
from engine.job import Job
from engine.models.loaders import load_model
from engine.recipe import ModelSpec, Recipe
from engine.store import Workspace
from engine.train.strategy import strategy_for
from engine.train.strategy_fsdp import FSDP, shard_units
from tests.engine.train.common import run_cli_events
from tests.engine.train.test_ddp import _comparable, _recipe, _weights


def _plain(**train) -> Recipe:
    """test_ddp's recipe without its pruning step (fsdp refuses masks): fine-tuning alone."""
    r = _recipe(**train)
    return r.replace(methods=())


@pytest.fixture(scope="module")
def fsdp_run(tmp_path_factory):
    """One 2-process fsdp run (batch 8 per rank) through workbench-cli run --events-json."""
    ws, events, _ = run_cli_events(_plain(strategy="fsdp").to_yaml(), tmp_path_factory.mktemp("fsdp"))
    return ws, events


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The same recipe in one process with batch 16 (= 2 × 8), in this process."""
    tmp = tmp_path_factory.mktemp("single")
    events: list = []
    result = Job(_plain(batch_size=16, strategy="single"), [events.append],
                 workspace=tmp / "ws").run()  # fmt: skip
    assert result.ok, result.error
    return Workspace(tmp / "ws"), result.run_id, events


def test_two_sharded_processes_of_8_train_like_one_of_16(fsdp_run, single_run):
    ws, events = fsdp_run
    ws1, run1, events1 = single_run
    finished = [e for e in events if isinstance(e, Finished)]
    assert len(finished) == 1  # rank 0 alone speaks
    a, b = _weights(ws, finished[0].run_id), _weights(ws1, run1)
    assert a.keys() == b.keys()  # the full model, not a shard, and no FSDP names
    assert all(a[k].shape == b[k].shape for k in a)
    assert all(torch.allclose(_comparable(k, a[k]), _comparable(k, b[k]), atol=2e-4) for k in a)
    fresh = load_model(ModelSpec(source="builtin", path="tiny-gpt")).module.state_dict()
    assert max(float((a[k] - fresh[k]).abs().max()) for k in a if ".ln" in k) > 1e-3
    loss = [e.value for e in events if isinstance(e, Metric) and e.name == "train/loss"]
    loss1 = [e.value for e in events1 if isinstance(e, Metric) and e.name == "train/loss"]
    assert len(loss) == 3 and loss == pytest.approx(loss1, abs=1e-4)
    (run,) = ws.variants()  # no steps: no baseline; rank 1 registered nothing
    assert run.status == "finished" and len(list((ws.root / "runs").iterdir())) == 1
    assert run.card["train"]["strategy"] == "fsdp" and run.card["train"]["world_size"] == 2
    assert run.card["train"]["global_batch"] == 16


def test_each_block_is_a_unit_then_the_root():
    module = load_model(ModelSpec(source="builtin", path="tiny-gpt")).module
    units = shard_units(module)
    assert units[-1] is module and all(u is b for u, b in zip(units, module.blocks, strict=False))
    assert len(units) == len(module.blocks) + 1
    assert shard_units(nn.Linear(2, 2))[0].__class__ is nn.Linear  # no blocks: one unit


def test_without_a_process_group_fsdp_trains_as_a_single_device():
    assert not isinstance(strategy_for("fsdp", torch.device("cpu")), FSDP)
