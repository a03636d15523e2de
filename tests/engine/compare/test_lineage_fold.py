"""Lineage filter and collapse on a real workspace tree (engine.compare.lineage)."""

from __future__ import annotations

from engine.compare.lineage import (
    ancestors,
    collapse,
    filter_tree,
    lineage,
    matches,
    subtree_size,
    walk,
)
from tests.engine.compare.lineage_workspace import build


def _names(roots):
    return [n.name for n, _ in walk(roots) if n.kind == "variant"]


def test_filter_keeps_matches_and_their_ancestors_only(tmp_path):
    by_name = build(tmp_path / "ws")
    roots = lineage(list(by_name.values()))
    every = [n.id for n, _ in walk(roots)]
    shown, hits = filter_tree(roots, "distilled")
    assert _names(shown) == ["tiny-gpt (base)", "prune-50", "prune-50-distilled"]
    assert hits == {by_name["prune-50-distilled"].id}
    assert [n.id for n, _ in walk(roots)] == every  # the input tree is untouched
    shown, hits = filter_tree(roots, "FAILED")  # status, any case
    assert _names(shown) == ["tiny-gpt (base)", "prune-bad"]
    shown, hits = filter_tree(roots, "int8")  # a method and a file kind
    assert sorted(n.name for n, _ in walk(shown) if n.id in hits) == ["int8", "model.int8.onnx"]
    shown, hits = filter_tree(roots, "prune cancelled")  # every word must be there
    assert _names(shown) == ["tiny-gpt (base)", "prune-50", "prune-50-kd-stopped"]
    assert hits == {by_name["prune-50-kd-stopped"].id}
    assert filter_tree(roots, "no such thing") == ([], set())
    assert filter_tree(roots, "  ")[0] is roots


def test_collapse_cuts_the_subtree_and_counts_what_it_hides(tmp_path):
    by_name = build(tmp_path / "ws")
    roots = lineage(list(by_name.values()))
    base, prune = by_name["tiny-gpt (base)"], by_name["prune-50"]
    shown, hidden = collapse(roots, {prune.id})
    assert hidden == {prune.id: 2}  # the distilled and the stopped run
    assert "prune-50-distilled" not in _names(shown) and "int8" in _names(shown)
    shown, hidden = collapse(roots, {base.id, prune.id})
    assert _names(shown) == ["tiny-gpt (base)"] and shown[0].children == []
    assert hidden == {base.id: subtree_size(roots[0])} and subtree_size(roots[0]) == 8  # 5 variants, 3 files
    assert collapse(roots, set())[1] == {}
    assert _names(roots)[-1] == "prune-bad"  # untouched


def test_ancestors_and_matching(tmp_path):
    by_name = build(tmp_path / "ws")
    roots = lineage(list(by_name.values()))
    kd = by_name["prune-50-distilled"]
    assert ancestors(roots, kd.id) == [by_name["tiny-gpt (base)"].id, by_name["prune-50"].id]
    assert ancestors(roots, by_name["tiny-gpt (base)"].id) == [] and ancestors(roots, "nope") == []
    assert matches(roots[0], "TINY base") and not matches(roots[0], "tiny int8")
