"""Magnitude pruning: exact sparsity, scope, patterns, masks held through training."""

import pytest
import torch
from torch import nn

from engine.methods.base import MethodContext
from engine.methods.prune import (
    MagnitudePruneConfig,
    apply_magnitude,
    layer_sparsity,
    make_permanent,
    overall_sparsity,
    preview_magnitude,
    select_targets,
)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(50, 16)
        self.fc1 = nn.Linear(16, 64)
        self.fc2 = nn.Linear(64, 16)
        self.classifier = nn.Linear(16, 3)

    def forward(self, x):
        return self.classifier(torch.relu(self.fc2(torch.relu(self.fc1(self.embed(x).mean(1))))))


def _prune(net, **kw):
    return apply_magnitude(MagnitudePruneConfig(**kw), MethodContext(net, "classification"))


@pytest.mark.parametrize("amount", [0.3, 0.5, 0.9])
def test_global_sparsity_is_exact_over_targets(amount):
    net = Net()
    res = _prune(net, amount=amount, scope="global")
    assert res.targets == ["fc1", "fc2"]  # embeddings and head excluded by default
    assert overall_sparsity(net, res.targets) == pytest.approx(amount, abs=1 / 2048)
    assert (net.classifier.weight != 0).all()


def test_layer_scope_prunes_each_layer_equally_global_does_not():
    net = Net()
    with torch.no_grad():
        net.fc1.weight.mul_(10)  # fc1 much larger: global keeps more of it
    g = layer_sparsity(net, _prune(net, amount=0.5, scope="global").targets)
    assert g["fc1"] < 0.2 and g["fc2"] > 0.8
    net2 = Net()
    ls = layer_sparsity(net2, _prune(net2, amount=0.5, scope="layer").targets)
    assert ls == {"fc1": pytest.approx(0.5), "fc2": pytest.approx(0.5)}


def test_removes_the_smallest_weights():
    net = Net()
    w = net.fc1.weight.detach().abs().clone()
    _prune(net, amount=0.5, scope="layer", include=("fc1",))
    kept = net.fc1.weight.detach() != 0
    assert w[kept].min() >= w[~kept].max()


def test_include_exclude_patterns():
    net = Net()
    names = [n for n, _ in select_targets(net, ("*",), ("fc2",))]
    assert names == ["fc1", "classifier"]
    with pytest.raises(ValueError, match=r"match no Linear/Conv layer; layer names look like: fc1, fc2"):
        _prune(net, amount=0.5, include=("encoder.*",))


def test_masked_weights_stay_zero_through_adam_steps():
    net = Net()
    res = _prune(net, amount=0.6)
    zero_before = {n: (dict(net.named_modules())[n].weight == 0).clone() for n in res.targets}
    opt = torch.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.1)
    x = torch.randint(0, 50, (8, 5))
    for _ in range(5):
        loss = nn.functional.cross_entropy(net(x), torch.zeros(8, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
    mods = dict(net.named_modules())
    for n, mask in zero_before.items():
        assert (mods[n].weight[mask] == 0).all()
    assert make_permanent(net) == 2
    assert not hasattr(net.fc1, "weight_orig")
    assert overall_sparsity(net, res.targets) == pytest.approx(0.6, abs=1e-3)
    assert isinstance(net.fc1.weight, nn.Parameter)


def test_preview_matches_what_pruning_removes():
    net = Net()
    p = preview_magnitude(MagnitudePruneConfig(amount=0.25), net)
    assert p == {"layers": 2, "targeted": 16 * 64 * 2, "removed": 512}
    _prune(net, amount=0.25)
    zeros = sum(int((m.weight == 0).sum()) for m in (net.fc1, net.fc2))
    assert zeros == p["removed"]
