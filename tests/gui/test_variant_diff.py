"""The Diff view shows a compare record: recipe changes, every changed layer (cut ones first,
with the removed neurons), a bar pair per layer, and the ONNX op counts with their change."""

from __future__ import annotations

import torch
from torch import nn

from engine.compare.graph_diff import graph_diff
from engine.compare.layer_diff import layer_diff
from engine.compare.recipe_diff import recipe_diff
from engine.recipe import Recipe
from gui.widgets.variant_diff import VariantDiffView
from tests.engine.compare.test_graph_diff import two_matmul_blocks


def _record(tmp_path) -> dict:
    from onnxruntime.quantization import quantize_dynamic

    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 4))
    b = nn.Sequential(nn.Linear(8, 10), nn.Linear(10, 4))  # 6 of 16 neurons cut
    rows = layer_diff(a, b)
    fp32, int8 = tmp_path / "a.onnx", tmp_path / "b.onnx"
    two_matmul_blocks(fp32)
    quantize_dynamic(str(fp32), str(int8))
    g = graph_diff(fp32, int8)
    ra = Recipe.from_yaml("name: a\nmodel: {source: builtin, path: tiny-gpt}")
    rb = ra.replace(name="b")
    return {"a": {"id": "1", "name": "a", "status": "finished"},
            "b": {"id": "2", "name": "b", "status": "finished"},
            "recipe": [c.as_dict() for c in recipe_diff(ra, rb)], "card": [], "shrink": None,
            "layers": [r.as_dict() | {"removed": r.removed_text} for r in rows],
            "layers_changed": 2, "layers_total": 2,
            "graph": g.as_dict() | {"artifact": "onnx-fp32"}, "notes": []}


def test_diff_view_shows_the_record(qapp, tmp_path):
    view = VariantDiffView()
    view.resize(1200, 700)
    view.set_record(_record(tmp_path))
    assert [view.recipe.item(i).text() for i in range(view.recipe.count())] == ["name: a → b"]
    assert view.layers.rowCount() == 2
    cells = [view.layers.item(0, j).text() for j in range(view.layers.columnCount())]
    assert cells[0] == "0" and cells[1] == "16×8 → 10×8"
    assert cells[-1] == "6 of 16 output neurons removed"
    ops = {view.ops.item(i, 0).text(): [view.ops.item(i, j).text() for j in (1, 2, 3)]
           for i in range(view.ops.rowCount())}
    assert ops["MatMul"] == ["3", "0", "-3"] and ops["MatMulInteger"] == ["0", "3", "+3"]
    assert ops["Relu"] == ["3", "3", ""]
    assert view.graph_label.text().startswith("3 MatMul → ")
    bars = [i for i in view.chart.getPlotItem().items if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 2  # A and B
    view.grab().save(str(tmp_path / "diff.png"))
