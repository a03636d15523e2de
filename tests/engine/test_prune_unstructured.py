"""Unstructured pruning: exact sparsity per criterion and scope, patterns, overrides,
threshold mode, masks held through training, Taylor vs magnitude."""

import pytest
import torch
from torch import nn

from engine.config_fields import ConfigError
from engine.methods.base import MethodContext
from engine.methods.prune.masks import (
    layer_sparsity,
    make_permanent,
    overall_sparsity,
    select_targets,
)
from engine.methods.prune.unstructured import (
    UnstructuredPruneConfig,
    apply_unstructured,
    check_unstructured,
    preview_unstructured,
)
from engine.recipe import Recipe


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


def _prune(net, ctx=None, **kw):
    cfg = UnstructuredPruneConfig(**kw)
    assert not Recipe(methods=(cfg,)).errors()
    return apply_unstructured(cfg, ctx or MethodContext(net, "classification"))


@pytest.mark.parametrize("criterion", ["magnitude", "random"])
@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("amount", [0.3, 0.5, 0.9])
def test_sparsity_is_exact_for_every_criterion_and_scope(amount, scope, criterion):
    net = Net()
    res = _prune(net, amount=amount, scope=scope, criterion=criterion)
    assert res.targets == ["fc1", "fc2"]  # embeddings and head excluded by default
    assert overall_sparsity(net, res.targets) == pytest.approx(amount, abs=1 / 2048)
    if scope == "layer":
        assert all(v == pytest.approx(amount, abs=1 / 1024) for v in res.layer_sparsity.values())
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
    assert [n for n, _ in select_targets(net, ("*",), (), ("embedding",))] == ["embed"]
    problems = check_unstructured(UnstructuredPruneConfig(include=("encoder.*",)), net)
    assert problems and "match no layer; layer names look like: fc1, fc2" in problems[0]
    with pytest.raises(ValueError, match="match no layer"):
        apply_unstructured(UnstructuredPruneConfig(include=("encoder.*",)), MethodContext(net, "x"))


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
    p = preview_unstructured(UnstructuredPruneConfig(amount=0.25), net)
    assert p == {"layers": 2, "targeted": 16 * 64 * 2, "removed": 512}
    _prune(net, amount=0.25)
    zeros = sum(int((m.weight == 0).sum()) for m in (net.fc1, net.fc2))
    assert zeros == p["removed"]


def test_per_layer_overrides_take_their_own_amount():
    net = Net()
    res = _prune(net, amount=0.5, scope="global", overrides={"fc1": 0.1})
    assert res.layer_sparsity["fc1"] == pytest.approx(0.1, abs=1e-3)
    assert res.layer_sparsity["fc2"] == pytest.approx(0.5, abs=1e-3)
    problems = check_unstructured(UnstructuredPruneConfig(overrides={"decoder.*": 0.3}), net)
    assert "override 'decoder.*' matches no targeted layer" in problems[0]


def test_threshold_mode_removes_below_the_value_and_reports_sparsity():
    net = Net()
    w = torch.cat([net.fc1.weight.detach().abs().flatten(), net.fc2.weight.detach().abs().flatten()])
    expected = float((w < 0.05).float().mean())
    res = _prune(net, mode="threshold", threshold=0.05)
    assert res.summary["sparsity"] == pytest.approx(expected, abs=1e-6)
    assert 0.05 < expected < 0.95


def test_taylor_ranks_differently_from_magnitude_on_a_constructed_case():
    """Large weights on an input that is always zero cost nothing to remove: Taylor removes
    them, magnitude keeps them."""
    from engine.methods.prune.importance import layer_scores, taylor_saliency

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            x = torch.zeros(8)
            x[:4] = torch.randn(4, generator=torch.Generator().manual_seed(i))  # inputs 4..7 are dead
            return {"input_ids": x, "attention_mask": torch.ones(1), "labels": torch.tensor(i % 2)}

    class Lin(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 2)
            with torch.no_grad():
                self.fc.weight[:, :4] = 0.1
                self.fc.weight[:, 4:] = 1.0  # big but useless

        def forward(self, x, mask):
            return self.fc(x)

    class Bundle:
        train = DS()

    net = Lin()
    layers = {"fc": net.fc}
    mag = layer_scores("magnitude", layers)["fc"]
    tay = layer_scores("taylor", layers, taylor=taylor_saliency(net, layers, "classification", Bundle(),
                                                                batches=2, batch_size=8, device=None))["fc"]
    assert (mag[:, 4:] > mag[:, :4].max()).all()  # magnitude: dead inputs look most important
    assert (tay[:, 4:] == 0).all() and (tay[:, :4] > 0).all()  # Taylor: they matter least


@pytest.mark.parametrize("bad, message", [
    (dict(amount=1.0), "amount: must be in [0, 1), got 1"),
    (dict(overrides={"fc1": 1.2}), "'fc1': amount must be in [0, 1)"),
    (dict(mode="threshold", criterion="random"), "threshold needs criterion magnitude or taylor"),
    (dict(schedule="gradual", initial_sparsity=0.6, amount=0.5), "is above the final amount"),
    (dict(schedule="gradual", start_step=10, end_step=5), "must be after start_step"),
    (dict(include=()), "is empty"),
])
def test_bad_configs_are_named_before_anything_runs(bad, message):
    with pytest.raises(ConfigError) as err:
        Recipe(methods=(UnstructuredPruneConfig(**bad),)).validate()
    assert message in str(err.value)


def test_old_magnitude_prune_recipes_still_load():
    r = Recipe.from_yaml("methods: [{type: magnitude_prune, amount: 0.3}]")
    assert r.methods == (UnstructuredPruneConfig(amount=0.3),)
    assert "type: unstructured_prune" in r.to_yaml()


def test_a_layer_emptied_by_the_global_ranking_is_warned_about():
    from engine.events import Log

    net = Net()
    with torch.no_grad():
        net.fc2.weight.mul_(1e-3)  # tiny weights: the global ranking takes them all first
    events: list = []
    res = _prune(net, MethodContext(net, "classification", emit=events.append), amount=0.5)
    assert res.layer_sparsity["fc2"] > 0.95
    warnings = [e.message for e in events if isinstance(e, Log) and e.level == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("fc2 is 99.9% pruned: a global ranking is emptying it")


def test_bert_pooler_is_left_dense_by_default():
    model = nn.ModuleDict({"pooler": nn.ModuleDict({"dense": nn.Linear(4, 4)}), "layer": nn.Linear(4, 4)})
    assert [n for n, _ in select_targets(model)] == ["layer"]
