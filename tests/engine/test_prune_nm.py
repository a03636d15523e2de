"""N:M semi-structured pruning: the pattern holds group by group, and bad shapes are named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.config_fields import ConfigError
from engine.job import Job
from engine.methods.base import MethodContext
from engine.methods.prune.nm import NMPruneConfig, apply_nm, check_nm, nm_mask, preview_nm
from engine.recipe import ExportConfig, Recipe, TrainConfig
from tests.engine.conftest import tiny_recipe


class Net(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(width, 24)
        self.fc2 = nn.Linear(24, 8)
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.fc2(torch.relu(self.fc1(x))))


@pytest.mark.parametrize("n, m", [(2, 4), (4, 8), (1, 4), (3, 8)])
def test_every_group_keeps_exactly_n_of_m(n, m):
    net = Net()
    res = apply_nm(NMPruneConfig(n=n, m=m), MethodContext(net, "classification"))
    assert res.targets == ["fc1", "fc2"]
    for layer in (net.fc1, net.fc2):
        groups = (layer.weight != 0).reshape(layer.out_features, -1, m)
        assert (groups.sum(-1) == n).all()  # group by group, not just on average
    assert all(v == pytest.approx(1 - n / m) for v in res.layer_sparsity.values())


def test_keeps_the_largest_weights_of_each_group():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.2, 3.0, 1.0, 2.0, 0.0]])
    assert nm_mask(scores, 2, 4).tolist() == [[0, 1, 1, 0, 1, 0, 1, 0]]


def test_widths_not_divisible_by_m_are_named_before_anything_runs():
    net = Net(width=30)
    problems = check_nm(NMPruneConfig(n=2, m=4), net)
    assert problems and "needs input widths divisible by 4; not: fc1 (30)" in problems[0]
    assert not check_nm(NMPruneConfig(n=2, m=4, exclude=("fc1", "classifier")), net)
    assert preview_nm(NMPruneConfig(n=2, m=4), Net()) == {"layers": 2, "targeted": 32 * 24 + 24 * 8,
                                                          "removed": (32 * 24 + 24 * 8) // 2}


def test_n_not_below_m_is_a_config_error():
    with pytest.raises(ConfigError, match=r"methods\[0\].n: must be less than m .* got 4:4"):
        Recipe(methods=(NMPruneConfig(n=4, m=4),)).validate()


def test_job_holds_2_4_through_fine_tuning(tmp_path):
    recipe = tiny_recipe(methods=(NMPruneConfig(n=2, m=4),), export=ExportConfig(enabled=False),
                         train=TrainConfig(max_steps=6, batch_size=8, eval_every=6))
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    assert result.card["sparsity"]["overall"] == pytest.approx(0.5, abs=1e-9)
    assert "nm_prune(n=2, m=4" in result.card["method"]
