"""Sensitivity analysis and evaluation noise: the paired noise band is what it says, an untrained
tiny-gpt is flagged as noise while the pretrained one is not, within-noise layers are proposed
evenly, and the CLI prints the per-layer verdict and the warning."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import save_file

from engine.cli import main as cli_main
from engine.data import load_data
from engine.models.builtin import load_builtin
from engine.recipe import DataSpec, Recipe
from engine.sensitivity import (
    NOISE_Z,
    SensitivityResult,
    analyze_sensitivity,
    noise_warning,
    overall_sparsity,
    propose_amounts,
    within_noise,
)
from engine.sensitivity_propose import at_chance
from engine.train.loop import evaluate, make_loader

DATA = DataSpec(path="shakespeare", max_length=32, max_samples=400)
LAYERS = [f"blocks.{b}.{p}" for b in (1, 3) for p in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")]
BATCHES, BATCH_SIZE = 4, 10


def analyse(pretrained: bool) -> tuple[SensitivityResult, object, object]:
    loaded = load_builtin("tiny-gpt", pretrained=pretrained)
    data = load_data(DATA, loaded)
    result = analyze_sensitivity(
        loaded, data, LAYERS, (0.5, 0.9), eval_batches=BATCHES, batch_size=BATCH_SIZE
    )
    return result, loaded, data


@pytest.fixture(scope="module")
def untrained():
    return analyse(pretrained=False)


@pytest.fixture(scope="module")
def pretrained():
    return analyse(pretrained=True)


def test_noise_band_is_two_standard_errors_of_the_paired_change(pretrained):
    result, loaded, data = pretrained
    batches = list(make_loader(data.val, BATCH_SIZE, False, 0))[:BATCHES]

    def per_batch() -> torch.Tensor:
        return torch.tensor(
            [evaluate(loaded.module, "causal-lm", [b], torch.device("cpu"))["loss"] for b in batches],
            dtype=torch.float64,
        )

    base = per_batch()
    whole = evaluate(loaded.module, "causal-lm", batches, torch.device("cpu"))
    assert result.baseline == pytest.approx(whole["perplexity"], rel=1e-9)
    layer, level_index = "blocks.1.mlp.fc", 1  # at 90%
    weight = dict(loaded.module.named_modules())[layer].weight
    original = weight.detach().clone()
    with torch.no_grad():
        k = round(0.9 * original.numel())  # exactly k smallest |w|, as the analysis prunes
        weight.view(-1)[original.abs().flatten().topk(k, largest=False).indices] = 0.0
    try:
        diffs = per_batch() - base
    finally:
        with torch.no_grad():
            weight.copy_(original)
    expected = NOISE_Z * float(diffs.std(unbiased=True)) / math.sqrt(BATCHES)
    assert result.noise[layer][level_index] == pytest.approx(expected, rel=1e-6)
    assert result.curves[layer][level_index][1] > result.baseline  # a real, measured change


def test_untrained_model_is_at_chance_and_the_pretrained_one_is_not(untrained, pretrained):
    noisy, _, _ = untrained
    clear, _, _ = pretrained
    assert clear.baseline < 30 < 200 < noisy.baseline
    # the bar: token frequencies of these very batches (a unigram model), far below 258
    assert clear.baseline < noisy.extra["chance"] < 40
    assert at_chance(noisy) and not at_chance(clear)
    assert all(within_noise(noisy, n) for n in LAYERS)
    warning = noise_warning(noisy)
    assert warning and warning.startswith("the baseline perplexity")
    assert "no better than predicting token frequencies" in warning
    # the untrained curves differ (tiny, consistent changes) but the proposal ranks nothing
    proposal = propose_amounts(noisy, 0.5)
    assert max(proposal.values()) - min(proposal.values()) <= 0.011
    assert abs(overall_sparsity(noisy, proposal) - 0.5) < 0.005
    # the pretrained model's changes stand out of the noise, and no warning is given
    beyond = [n for n in LAYERS if not within_noise(clear, n)]
    assert len(beyond) > len(LAYERS) / 2 and noise_warning(clear) is None
    spread = propose_amounts(clear, 0.8)  # past the levels that cost nothing measurable
    assert max(spread.values()) - min(spread.values()) > 0.3  # a real ranking


def test_within_noise_layers_are_proposed_evenly_not_95_and_0():
    names = ["a", "b", "c"]
    curves = {"a": [(0.5, 10.02), (0.9, 10.05)], "b": [(0.5, 10.0), (0.9, 10.01)],
              "c": [(0.5, 10.03), (0.9, 10.08)]}  # fmt: skip
    ignored = SensitivityResult("perplexity", False, 10.0, curves, {n: 1000 for n in names}, (0.5, 0.9))
    naive = propose_amounts(ignored, 0.5)
    assert max(naive.values()) - min(naive.values()) > 0.5  # without noise: 95% vs 0%
    bands = {n: [0.01, 0.02] for n in names}  # every change is inside its band (log units)
    noisy = SensitivityResult(
        "perplexity", False, 10.0, curves, {n: 1000 for n in names}, (0.5, 0.9), noise=bands
    )
    assert all(within_noise(noisy, n) for n in names)
    assert set(propose_amounts(noisy, 0.5).values()) == {0.5}
    warning = noise_warning(noisy)
    assert warning.startswith("3 of 3 layers change perplexity by less than the evaluation noise")
    assert "largest change of any layer: +0.8% perplexity" in warning  # 10.08 vs 10
    back = SensitivityResult.from_dict(json.loads(json.dumps(noisy.to_dict())))
    assert back == noisy


def test_cli_marks_noise_per_layer_and_warns(tmp_path, capsys):
    # an untrained tiny-gpt, loaded the way a user would: a bare state_dict file
    state = load_builtin("tiny-gpt", pretrained=False).module.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "untrained.safetensors"))
    recipe = Recipe.from_yaml(f"""
name: noise
model: {{source: safetensors, path: {tmp_path / 'untrained.safetensors'}, architecture: tiny-gpt}}
data: {{source: builtin, path: shakespeare, max_length: 32, max_samples: 400}}
methods:
  - {{type: unstructured_prune, amount: 0.5, include: ["blocks.1.*", "blocks.3.*"]}}
train: {{batch_size: {BATCH_SIZE}, epochs: 0}}
export: {{enabled: false}}
""")
    (tmp_path / "r.yaml").write_text(recipe.to_yaml())
    args = ["sensitivity", str(tmp_path / "r.yaml"), "--levels", "0.5,0.9", "--eval-batches",
            str(BATCHES), "--workspace", str(tmp_path / "ws")]  # fmt: skip
    assert cli_main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "noise = 2 standard errors of each change over 4 paired batches" in out[0]
    assert out[2].split()[-1] == "noise?"
    verdicts = {line.split()[0]: line.split()[-1] for line in out[4:12]}
    assert set(verdicts) == set(LAYERS) and set(verdicts.values()) <= {"within", "beyond"}
    assert set(verdicts.values()) == {"within"}  # an untrained model: nothing to rank
    warning = next(line for line in out if line.startswith("warning: "))
    assert "no better than predicting token frequencies" in warning
    assert cli_main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["warning"] == warning.removeprefix("warning: ")
    assert sorted(data["within_noise"]) == sorted(n for n, v in verdicts.items() if v == "within")


def test_untrained_classifier_is_at_chance_and_the_pretrained_one_is_not():
    """tiny-bert-structured.yaml's data: 40 validation texts, the largest class holds 16."""
    spec = DataSpec(path="bbc-news", max_length=64, max_samples=400)
    results = {}
    for pretrained in (False, True):
        loaded = load_builtin("tiny-bert", pretrained=pretrained)
        data = load_data(spec, loaded)
        results[pretrained] = analyze_sensitivity(
            loaded, data, ["blocks.0.mlp.fc"], (0.9,), eval_batches=3, batch_size=16
        )
    assert results[True].extra["chance"] == 16 / 40
    assert results[True].baseline > 0.5 and not at_chance(results[True])
    assert at_chance(results[False])
    assert "no better than predicting the most frequent class (0.4)" in noise_warning(results[False])
