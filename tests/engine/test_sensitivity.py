"""Sensitivity analysis: exact weight restore, a critical layer found and spared, proposals that
meet the requested overall sparsity, recipes and the `sensitivity` CLI subcommand."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from engine.cli import main as cli_main
from engine.cli.sensitivity import sensitivity_table
from engine.data import DataBundle, TokenDataset
from engine.methods.base import MethodContext
from engine.methods.prune.masks import make_permanent
from engine.methods.prune.masks import overall_sparsity as measured_sparsity
from engine.methods.prune.unstructured import UnstructuredPruneConfig, apply_unstructured
from engine.models.checkpoint import save_model
from engine.models.loaders import load_model
from engine.models.types import TEXT_INPUTS, LoadedModel
from engine.recipe import ModelSpec, Recipe
from engine.sensitivity import (
    SensitivityResult,
    analyze_sensitivity,
    apply_proposal,
    first_prune_step,
    overall_sparsity,
    propose_amounts,
    run_sensitivity,
)
from engine.store import Workspace

GPT_RECIPE = """
name: sens
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 120}
methods:
  - {type: unstructured_prune, amount: 0.5, scope: global, include: ["blocks.0.*"]}
train: {batch_size: 4, epochs: 0}
export: {enabled: false}
"""
GPT_LAYERS = ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc", "blocks.0.mlp.proj"]


class SignalNet(nn.Module):
    """`crit` carries the whole signal; the side layers add 1% noise-sized contributions."""

    def __init__(self, vocab: int = 32, d: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.crit = nn.Linear(d, d, bias=False)
        self.side1 = nn.Linear(d, d, bias=False)
        self.side2 = nn.Linear(d, d, bias=False)
        self.classifier = nn.Linear(d, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids).mean(1)
        return self.classifier(self.crit(x) + 0.01 * (self.side1(x) + self.side2(x)))


@pytest.fixture(scope="module")
def signal_case() -> tuple[LoadedModel, DataBundle]:
    """SignalNet with labels it predicts perfectly (clear margins only): baseline accuracy 1."""
    torch.manual_seed(0)
    net = SignalNet().eval()
    with torch.no_grad():
        # a dense orthogonal map: every weight matters, none is near zero by construction
        net.crit.weight.copy_(torch.linalg.qr(torch.randn(16, 16))[0] * 4)
    ids = torch.randint(0, 32, (600, 8))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        logits = net(ids, mask)
    margin = (logits[:, 0] - logits[:, 1]).abs()
    keep = margin > margin.median()  # drop near-ties a 1% change could flip
    ids, mask, labels = ids[keep], mask[keep], logits[keep].argmax(-1)
    ds = TokenDataset(ids, mask, labels)
    data = DataBundle("classification", ds, ds, num_labels=2)
    loaded = LoadedModel(net, "classification", TEXT_INPUTS, None, num_labels=2)
    return loaded, data


@pytest.fixture(scope="module")
def signal_result(signal_case) -> SensitivityResult:
    loaded, data = signal_case
    return analyze_sensitivity(loaded, data, levels=(0.25, 0.5, 0.7, 0.9), batch_size=200)


@pytest.fixture(scope="module")
def gpt_result() -> tuple[SensitivityResult, dict[str, float]]:
    """tiny-gpt's first block: layers of three different sizes."""
    return run_sensitivity(Recipe.from_yaml(GPT_RECIPE), (0.5, 0.9), 0.5, eval_batches=1)


def test_analysis_restores_weights_exactly(signal_case):
    loaded, data = signal_case
    ids, mask = data.val.input_ids[:64], data.val.attention_mask[:64]
    before_state = {k: v.clone() for k, v in loaded.module.state_dict().items()}
    with torch.no_grad():
        before = loaded.module(ids, mask)
    seen: list[float] = []
    result = analyze_sensitivity(
        loaded, data, levels=(0.5, 1.0), eval_batches=1, progress=lambda f, m: seen.append(f)
    )
    with torch.no_grad():
        after = loaded.module(ids, mask)
    assert torch.equal(before, after)
    assert all(torch.equal(before_state[k], v) for k, v in loaded.module.state_dict().items())
    assert list(result.curves) == ["crit", "side1", "side2"]  # embedding and head excluded
    assert result.sizes == {"crit": 256, "side1": 256, "side2": 256}
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_weights_restored_after_cancel(signal_case):
    loaded, data = signal_case
    before = loaded.module.crit.weight.detach().clone()
    calls = iter(range(100))
    with pytest.raises(Exception, match="cancelled"):
        analyze_sensitivity(loaded, data, levels=(0.9,), cancelled=lambda: next(calls) >= 2)
    assert torch.equal(loaded.module.crit.weight, before)


def test_critical_layer_is_found_and_spared(signal_result):
    r = signal_result
    assert r.metric == "accuracy" and r.higher_is_better and r.baseline == 1.0
    at = {name: dict(points) for name, points in r.curves.items()}
    for name, curve in at.items():  # pruning never looks much better than the dense model
        assert all(m <= r.baseline + 0.01 for m in curve.values()), name
    assert at["crit"][0.9] < 0.8  # the signal layer collapses...
    assert at["side1"][0.9] > 0.97 and at["side2"][0.9] > 0.97  # ...the side layers barely move
    for target in (0.3, 0.5, 0.6):
        proposal = propose_amounts(r, target)
        assert proposal["crit"] == min(proposal.values())
        assert proposal["crit"] < 0.2 and proposal["side1"] > target
        assert abs(overall_sparsity(r, proposal) - target) < 0.005


def test_proposal_meets_requested_overall_sparsity(gpt_result):
    result, proposal = gpt_result
    assert len({result.sizes[n] for n in result.curves}) == 3  # size weighting matters here
    assert abs(overall_sparsity(result, proposal) - 0.5) < 0.005
    for target in (0.0, 0.1, 0.33, 0.5, 0.77, 0.9, 0.95):
        amounts = propose_amounts(result, target)
        assert set(amounts) == set(result.curves)
        assert all(0.0 <= a <= 0.95 for a in amounts.values())
        assert abs(overall_sparsity(result, amounts) - target) < 0.005, target


def test_applied_overrides_prune_to_the_target(gpt_result):
    """The proposal, run through the real unstructured pruning step, gives the target sparsity."""
    result, _ = gpt_result
    names = list(result.curves)
    for target in (0.3, 0.6, 0.85):
        proposal = propose_amounts(result, target)
        recipe = apply_proposal(Recipe.from_yaml(GPT_RECIPE), proposal, target)
        cfg = recipe.methods[0]
        assert cfg.overrides == proposal and cfg.amount == target
        loaded = load_model(recipe.model)
        apply_unstructured(cfg, MethodContext(module=loaded.module, task=loaded.task))
        assert abs(measured_sparsity(loaded.module, names) - target) < 0.005, target


def test_target_out_of_range_is_a_clear_error(signal_result):
    for bad in (-0.1, 0.96, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"target overall sparsity must be in \[0, 0.95\]"):
            propose_amounts(signal_result, bad)
    with pytest.raises(ValueError, match="every level must be a sparsity in"):
        run_sensitivity(Recipe.from_yaml(GPT_RECIPE), (0.5, 1.5))


def test_result_round_trips_through_json(signal_result):
    back = SensitivityResult.from_dict(json.loads(json.dumps(signal_result.to_dict())))
    assert back == signal_result


def test_apply_proposal_creates_a_pruning_step_when_there_is_none():
    recipe = Recipe.from_yaml(GPT_RECIPE).replace(methods=())
    assert first_prune_step(recipe) is None
    out = apply_proposal(recipe, {"blocks.0.mlp.fc": 0.7}, 0.4)
    index, cfg = first_prune_step(out)
    assert index == 0 and isinstance(cfg, UnstructuredPruneConfig)
    assert cfg.overrides == {"blocks.0.mlp.fc": 0.7} and cfg.amount == 0.4
    assert Recipe.from_yaml(out.to_yaml()) == out


def test_variant_source_uses_the_workspace(tmp_path):
    """A variant whose layers are already 50% zero: pruning them to 25% or 50% changes nothing."""
    recipe = Recipe.from_yaml(GPT_RECIPE.replace("global", "layer")).replace(name="half")
    loaded = load_model(recipe.model)
    apply_unstructured(recipe.methods[0], MethodContext(module=loaded.module, task=loaded.task))
    make_permanent(loaded.module)
    # register it the way a finished job leaves it: a run folder with a checkpoint
    ws = Workspace(tmp_path)
    run = ws.new_run("half", recipe.to_yaml())
    save_model(loaded, ws.run_dir(run.id) / "checkpoint")
    ws.finish(run.id, {"id": run.id})
    from_variant = recipe.replace(model=ModelSpec(source="variant", path="half"))
    result, _ = run_sensitivity(from_variant, (0.25, 0.5), 0.3, eval_batches=1, workspace=tmp_path)
    assert list(result.curves) == GPT_LAYERS
    for points in result.curves.values():
        assert [m for _, m in points] == [result.baseline, result.baseline]


def test_cli_json_out_and_bad_input(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(GPT_RECIPE)
    out = tmp_path / "proposed.yaml"
    args = ["sensitivity", str(recipe), "--levels", "0.5,0.9", "--eval-batches", "1",
            "--target", "0.4", "--workspace", str(tmp_path / "ws")]
    assert cli_main([*args, "--json", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["layers"]) == GPT_LAYERS
    assert all(len(v["points"]) == 2 for v in data["layers"].values())
    assert data["metric"] == "perplexity" and data["baseline"] > 1
    assert list(data["proposal"]) == GPT_LAYERS and data["target"] == 0.4
    result = SensitivityResult.from_dict(data)
    assert abs(overall_sparsity(result, data["proposal"]) - 0.4) < 0.005
    written = Recipe.load(out)
    assert written.methods[0].overrides == data["proposal"] and written.methods[0].amount == 0.4

    # the text table (what the command prints without --json), from the same numbers
    table = sensitivity_table(result, data["proposal"]).splitlines()
    assert table[2].split() == ["layer", "params", "ppl@50%", "ppl@90%", "proposed", "noise?"]
    rows = {line.split()[0]: line.split() for line in table[4:8]}
    assert list(rows) == GPT_LAYERS and rows["blocks.0.mlp.fc"][1] == "65536"
    assert table[-1].startswith("proposed overall sparsity: 40.0% over 4 layers")

    for bad, message in (
        (["--levels", "0.5,x"], "--levels must be comma-separated"),
        (["--levels", "0.5,1.5"], "every level must be a sparsity in (0, 1], got 1.5"),
        (["--target", "1.2"], "target overall sparsity must be in [0, 0.95]"),
        (["--eval-batches", "0"], "--eval-batches must be at least 1"),
    ):
        assert cli_main([*args, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert cli_main(["sensitivity", str(tmp_path / "missing.yaml")]) == 2
    assert "recipe file not found" in capsys.readouterr().err


def test_cli_control_file_holds_the_scan_and_run_lets_it_finish(tmp_path, capsys):
    import threading
    import time

    from engine.cli.control_file import write_control

    recipe, ctl, ws = tmp_path / "r.yaml", tmp_path / "ctl", tmp_path / "ws"
    recipe.write_text(GPT_RECIPE)
    write_control(ctl, "pause")  # held from its first measurement on
    args = ["sensitivity", str(recipe), "--levels", "0.5", "--eval-batches", "1", "--json",
            "--control-file", str(ctl), "--workspace", str(ws)]
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(cli_main(args)), daemon=True)
    thread.start()
    out = err = ""
    deadline = time.monotonic() + 120
    while "paused" not in err and time.monotonic() < deadline:
        time.sleep(0.1)
        captured = capsys.readouterr()
        out, err = out + captured.out, err + captured.err
    assert "paused" in err, err
    time.sleep(1.5)  # held: nothing measured, nothing stored
    held = capsys.readouterr()
    assert thread.is_alive() and held.out == "" and "%" not in held.err
    assert not list((ws / "sensitivity").glob("*.json"))
    write_control(ctl, "run")
    thread.join(120)
    assert codes == [0]
    data = json.loads(out + capsys.readouterr().out)
    assert list(data["layers"]) == GPT_LAYERS and len(list((ws / "sensitivity").glob("*.json"))) == 1
