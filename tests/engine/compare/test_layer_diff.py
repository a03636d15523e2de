"""Per-layer diff: a structured-pruned tiny variant against its parent shows exactly the
removed neurons, and weight change / sparsity / bit width read from the real models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.compare.layer_diff import layer_diff, top_changes, variant_layer_diff
from engine.job import Job
from engine.methods.prune.structured import StructuredPruneConfig
from engine.methods.prune.structured_record import parse_ranges, ranges_text
from engine.models.variant_source import load_variant
from engine.recipe import ExportConfig, ModelSpec, TrainConfig
from engine.store import Workspace
from tests.engine.conftest import tiny_recipe


@pytest.fixture(scope="module")
def pruned_pair(tmp_path_factory):
    """(workspace, parent variant, structured-pruned child): real tiny jobs, no export."""
    root = tmp_path_factory.mktemp("ws")
    train = TrainConfig(max_steps=2, batch_size=8, eval_every=2)
    base = Job(tiny_recipe(name="base", methods=(), train=train,
                           export=ExportConfig(enabled=False)), workspace=root).run()
    assert base.ok, base.error
    child = Job(tiny_recipe(name="cut", model=ModelSpec(source="variant", path=base.run_id),
                            methods=(StructuredPruneConfig(target="ffn", amount=0.5),),
                            train=train, export=ExportConfig(enabled=False)),
                workspace=root).run()
    assert child.ok, child.error
    ws = Workspace(root)
    return ws, ws.get(base.run_id), ws.get(child.run_id)


def test_structured_pruned_variant_shows_the_removed_neurons(pruned_pair):
    ws, base, cut = pruned_pair
    rows = {r.name: r for r in variant_layer_diff(ws, base, cut)}
    for i in range(4):  # tiny-gpt: 4 blocks, FFN 128 -> 512 -> 128, half the neurons cut
        fc, proj = rows[f"blocks.{i}.mlp.fc"], rows[f"blocks.{i}.mlp.proj"]
        assert (fc.shape_a, fc.shape_b) == ((512, 128), (256, 128))
        assert (fc.out_removed, fc.in_removed) == (256, 0)
        assert (fc.params_a, fc.params_b) == (512 * 128 + 512, 256 * 128 + 256)
        # which neurons: the pruning step's record, the same ones for fc's rows and proj's inputs
        removed = parse_ranges(fc.removed_ids)
        assert len(set(removed)) == 256 and all(0 <= j < 512 for j in removed)
        assert proj.removed_ids == fc.removed_ids
        assert fc.removed_text.startswith("256 of 512 output neurons removed: ")
        assert (proj.out_removed, proj.in_removed) == (0, 256)
        assert proj.weight_change is None  # shapes differ: no norm of the difference
    # the attention was fine-tuned, not cut: same shape, a small measured change
    attn = rows["blocks.0.attn.proj"]
    assert attn.shape_a == attn.shape_b and attn.out_removed == 0
    assert 0 < attn.weight_change < 0.5 and attn.bits_a == attn.bits_b == "fp32"
    top = top_changes(list(rows.values()), 8)
    assert {r.name for r in top} == {f"blocks.{i}.mlp.{n}" for i in range(4) for n in ("fc", "proj")}


def test_the_recorded_neurons_are_the_ones_missing_from_the_child(pruned_pair):
    ws, base, cut = pruned_pair
    ma, mb = (load_variant(ModelSpec(source="variant", path=v.id), ws).module for v in (base, cut))
    rows = {r.name: r for r in variant_layer_diff(ws, base, cut)}
    for i in range(4):
        removed = set(parse_ranges(rows[f"blocks.{i}.mlp.fc"].removed_ids))
        kept = [j for j in range(512) if j not in removed]
        wa = ma.blocks[i].mlp.fc.weight.detach()
        wb = mb.blocks[i].mlp.fc.weight.detach()
        # two fine-tuning steps move the kept rows a little; any other choice of rows is far off
        near = float((wb - wa[kept]).norm() / wa[kept].norm())
        other = [j for j in range(512) if j not in kept[:128]][:256]
        assert near < 0.1 < float((wb - wa[other]).norm() / wa[other].norm())


def test_ranges_round_trip():
    assert ranges_text([7, 0, 1, 2, 3, 9, 10, 12]) == "0-3,7,9-10,12"
    assert parse_ranges("0-3,7,9-10,12") == [0, 1, 2, 3, 7, 9, 10, 12]
    assert ranges_text([]) == "" and parse_ranges("") == []


def test_weight_change_sparsity_bits_and_layers_on_one_side():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    b = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2), nn.Linear(2, 2))
    b.load_state_dict({**a.state_dict(), **{k: v for k, v in b.state_dict().items()
                                            if k.startswith("2.")}})
    with torch.no_grad():
        b[0].weight[0].zero_()  # 4 of 12 weights zeroed: relative change = ‖row‖ / ‖W‖
    card_b = {"artifacts": [{"kind": "int8-dynamic", "summary": {"node_errors": [
        {"node": "/0/MatMul", "layer": "1", "rel_error": 0.02}]}}]}
    rows = {r.name: r for r in layer_diff(a, b, None, card_b)}
    expected = float(a[0].weight[0].detach().norm() / a[0].weight.detach().norm())
    assert rows["0"].weight_change == pytest.approx(expected)
    assert (rows["0"].sparsity_a, rows["0"].sparsity_b) == (0.0, pytest.approx(4 / 12))
    assert rows["1"].weight_change == 0.0
    assert (rows["1"].bits_a, rows["1"].bits_b, rows["1"].quant_error_b) == ("fp32", "int8", 0.02)
    assert rows["2"].shape_a is None and rows["2"].shape_b == (2, 2) and rows["2"].bits_a == "-"
