"""The lineage tree of a workspace with branches, a failed and a cancelled run, and artifacts."""

from __future__ import annotations

import pytest

from engine.compare.lineage import find, lineage, node_parts, walk
from engine.store import Workspace
from tests.engine.compare.lineage_workspace import build


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    return Workspace(root), build(root)


def test_shared_baseline_is_one_root_with_every_recipe_below_it(ws):
    store, by_name = ws
    roots = lineage(store)
    assert [r.name for r in roots] == ["tiny-gpt (base)"]
    base = roots[0]
    assert [c.name for c in base.children] == ["prune-50", "int8", "prune-bad"]
    assert [n.name for n, _ in walk(roots)].count("tiny-gpt (base)") == 1
    prune = find(roots, by_name["prune-50"].id)
    assert [c.name for c in prune.children] == ["prune-50-distilled", "prune-50-kd-stopped"]
    depths = {n.name: d for n, d in walk(roots) if n.kind == "variant"}
    assert depths == {"tiny-gpt (base)": 0, "prune-50": 1, "prune-50-distilled": 2,
                      "prune-50-kd-stopped": 2, "int8": 1, "prune-bad": 1}


def test_nodes_carry_method_size_latency_metric_and_status(ws):
    store, by_name = ws
    roots = lineage(store)
    prune = find(roots, by_name["prune-50"].id)
    assert (prune.method, prune.status, prune.metric) == ("Unstructured pruning 50%", "finished", "perplexity")
    assert prune.size_mb == pytest.approx(3.8) and prune.latency_ms == pytest.approx(7.0)
    assert prune.value == pytest.approx(6.32)
    assert roots[0].method == "baseline"
    bad = find(roots, by_name["prune-bad"].id)
    # no card: the method comes from its recipe; the reason from the store
    assert bad.status == "failed" and bad.method.startswith("Unstructured pruning")
    assert "1.5" in bad.error and bad.size_mb is None and bad.metric is None
    stopped = find(roots, by_name["prune-50-kd-stopped"].id)
    assert stopped.status == "cancelled" and stopped.children == []
    assert node_parts(bad)[-1] == "FAILED" and node_parts(stopped)[-1] == "CANCELLED"
    assert node_parts(prune) == ["prune-50", "Unstructured pruning 50%", "3.8 MB", "7.0 ms",
                                 "perplexity 6.32", "finished"]


def test_artifacts_are_leaves_of_their_variant(ws):
    store, by_name = ws
    int8 = find(lineage(store), by_name["int8"].id)
    files = [c for c in int8.children if c.kind == "artifact"]
    assert [f.method for f in files] == ["onnx-fp32", "onnx-int8-dynamic", "onnx-int4"]
    assert [f.name for f in files] == ["model.onnx", "model.int8.onnx", "model.int4.onnx"]
    assert all(f.children == [] and f.run_id == int8.id and f.parent == int8.id for f in files)
    q = files[1]
    assert q.id == f"{int8.id}/onnx-int8-dynamic"
    assert (q.size_mb, q.latency_ms, q.metric) == (pytest.approx(1.0), pytest.approx(5.0), "perplexity")
    # variants without artifact files have no leaves
    assert not [c for c in find(lineage(store), by_name["prune-50"].id).children if c.kind == "artifact"]


def test_a_variant_whose_parent_was_deleted_becomes_a_marked_root(ws):
    store, by_name = ws
    gone = by_name["prune-50-kd-stopped"]
    store.delete(gone.id)  # the cancelled child first, then its parent
    store.delete(by_name["prune-50"].id)
    roots = lineage(store)
    assert [r.name for r in roots] == ["tiny-gpt (base)", "prune-50-distilled"]
    orphan = roots[1]
    assert orphan.orphan and orphan.parent == by_name["prune-50"].id
    assert node_parts(orphan)[-1] == f"parent {by_name['prune-50'].id} deleted"
    assert not roots[0].orphan


def test_json_form_nests_children(ws):
    store, by_name = ws
    d = lineage(store)[0].to_dict()
    assert d["name"] == "tiny-gpt (base)" and d["kind"] == "variant"
    int8 = next(c for c in d["children"] if c["name"] == "int8")
    assert [c["kind"] for c in int8["children"]] == ["artifact"] * 3


def test_empty_workspace_has_no_roots(tmp_path):
    assert lineage(Workspace(tmp_path / "empty")) == []


def test_variants_sharing_a_name_are_told_apart_by_their_id(ws):
    store, by_name = ws
    again = store.new_run("prune-50", "name: prune-50\n", by_name["tiny-gpt (base)"].id)
    store.mark(again.id, "crashed")
    roots = lineage(store)
    first, second = find(roots, by_name["prune-50"].id), find(roots, again.id)
    assert first.same_name and second.same_name and not roots[0].same_name
    assert node_parts(first)[0] == f"prune-50 ({first.id})" and node_parts(second)[-1] == "CRASHED"
    assert node_parts(roots[0])[0] == "tiny-gpt (base)"
