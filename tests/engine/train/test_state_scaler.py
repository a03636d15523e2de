"""The fp16 gradient scaler's state travels in the resumable training state (weights_only file)."""

from __future__ import annotations

import torch

from engine.train.precision import Precision
from engine.train.state import TrainState, read_train_state
from tests.engine.train.common import CPU


def _state(precision: Precision) -> TrainState:
    layer = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(layer.parameters())
    return TrainState(layer, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), (), None, precision)


def test_the_scaler_state_is_saved_and_restored(tmp_path):
    # a CPU GradScaler stands in for the CUDA one fp16 uses: the same state_dict travels
    saving = Precision("fp32", CPU)
    saving.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=7)
    saving.scaler.scale(torch.ones(()))  # the scale tensor exists once a loss was scaled
    saving.scaler.update(512.0)  # as after a skipped step
    _state(saving).save(tmp_path / "s.pt", 5)
    assert read_train_state(tmp_path / "s.pt")["scaler"]["scale"] == 512.0
    loading = Precision("fp32", CPU)
    loading.scaler = torch.amp.GradScaler("cpu")
    assert _state(loading).load(tmp_path / "s.pt") == 5
    assert loading.loss_scale() == 512.0 and loading.scaler.get_growth_interval() == 7


def test_a_state_without_a_scaler_leaves_a_new_one(tmp_path):
    _state(Precision("fp32", CPU)).save(tmp_path / "s.pt", 3)  # fp32 run: empty scaler state
    assert read_train_state(tmp_path / "s.pt")["scaler"] == {}
    loading = Precision("fp32", CPU)
    loading.scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    assert _state(loading).load(tmp_path / "s.pt") == 3
    assert loading.loss_scale() == 256.0
