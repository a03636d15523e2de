"""`workbench-cli compare A B`: in-process, on a real tiny parent and its structured-pruned,
int8-quantized child; --json carries the same diffs the library computes."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.compare.graph_diff import graph_diff
from tests.engine.compare.pair_workspace import exported_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(workspace, parent id, child id): both exported; the child also has an int8 file
    (shared with the report tests: the two jobs run once per process)."""
    return exported_pair(tmp_path_factory)


def _run(capsys, *argv):
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_shows_recipe_card_layers_and_graph(pair, capsys):
    root, a, b = pair
    code, out, err = _run(capsys, "base", "cut", "-w", str(root))
    assert code == 0, err
    assert "methods: Step 1 added: structured_prune(target=ffn, amount=0.5" in out
    assert "methods: Step 2 added: int8 dynamic" in out
    assert f"model.path: tiny-gpt (default) → {a}" in out
    assert "256 of 512 output neurons removed" in out and "B against A:" in out
    assert "graph (onnx-fp32): same operator counts" in out  # cut rows: same ops, smaller tensors


def test_json_mirrors_the_library_diffs(pair, capsys):
    root, a, b = pair
    code, out, err = _run(capsys, a, b, "--json", "--layers", "-w", str(root))
    assert code == 0, err
    rec = json.loads(out)
    assert (rec["a"]["id"], rec["b"]["id"]) == (a, b)
    assert [c["path"] for c in rec["recipe"]] == ["name", "model.source", "model.path",
                                                   "methods[0]", "methods[1]"]
    layers = {r["name"]: r for r in rec["layers"]}
    assert len(layers) == rec["layers_total"]  # --layers: every layer, not only the top
    fc = layers["blocks.2.mlp.fc"]
    assert (fc["shape_a"], fc["shape_b"], fc["out_removed"]) == ([512, 128], [256, 128], 256)
    # the int8 file's measured nodes name their layers: those read int8 on B's side
    assert fc["bits_a"] == "fp32" and fc["bits_b"] == "int8" and fc["quant_error_b"] > 0
    runs = root / "runs"
    expected = graph_diff(runs / a / "model.onnx", runs / b / "model.onnx")
    assert rec["graph"]["ops_a"] == expected.ops_a and rec["graph"]["ops_b"] == expected.ops_b
    assert {r["field"] for r in rec["card"]} >= {"params", "metric", "onnx MB", "p50 ms"}


def test_named_artifact_and_bad_input(pair, capsys):
    root, a, b = pair
    code, out, _ = _run(capsys, b, b, "--graph", "int8-dynamic", "-w", str(root))
    assert code == 0 and "graph (onnx-int8-dynamic): same operator counts" in out
    assert "MatMulInteger" in out and "same recipe" in out
    code, out, _ = _run(capsys, a, b, "--graph", "int8-dynamic", "-w", str(root))
    assert code == 0 and "note: no onnx-int8-dynamic ONNX file on base" in out
    code, _, err = _run(capsys, a, b, "--graph", "int4", "-w", str(root))
    assert code == 2 and "--graph int4: neither variant has that artifact" in err
    code, out, err = _run(capsys, a, "nope", "-w", str(root))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "'nope'" in err
