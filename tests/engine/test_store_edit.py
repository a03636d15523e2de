"""Deleting, renaming and exporting variants (engine and CLI), and the dense fine-tuned control.

Real tiny runs through the CLI's main(): a pruned, fine-tuned child of an untrained
baseline, then its dense control made with `workbench-cli control` and run.
"""

from __future__ import annotations

import csv
import shutil

import pytest

from engine.cli import main
from engine.fair_parent import (
    PARENT_NOTE,
    comparison_parent,
    comparison_parents,
    control_recipe,
    fine_tuned,
    needs_control,
)
from engine.recipe import Recipe
from engine.store import Workspace
from tests.engine.conftest import TINY_RECIPE


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """(workspace, child, control): a pruned fine-tuned run, and its dense control run after it."""
    root = tmp_path_factory.mktemp("family")
    (root / "r.yaml").write_text(TINY_RECIPE.replace("max_steps: 8", "max_steps: 4"))
    ws = root / "ws"
    assert main(["run", str(root / "r.yaml"), "-w", str(ws), "-q"]) == 0
    child = next(v for v in Workspace(ws).variants() if v.name == "tiny-prune")
    assert main(["control", child.id, "-w", str(ws), "-o", str(root / "c.yaml")]) == 0
    assert main(["run", str(root / "c.yaml"), "-w", str(ws), "-q"]) == 0
    control = next(v for v in Workspace(ws).variants() if v.name == "tiny-prune-dense-control")
    return ws, child, control


def test_control_recipe_has_no_methods_and_the_childs_training(family):
    ws, child, control = family
    made = control_recipe(child)
    original = Recipe.from_yaml(child.recipe)
    assert made.methods == () and made.name == "tiny-prune-dense-control"
    assert made.train == original.train and made.data == original.data
    assert made.model == original.model and made.export == original.export
    ran = Recipe.from_yaml(control.recipe)
    assert ran.methods == () and ran.train == original.train


def test_the_control_becomes_the_fair_parent(family, capsys):
    ws, child, control = family
    store = Workspace(ws)
    variants = store.variants()
    parent = store.get(child.parent)
    assert fine_tuned(child.card) and not fine_tuned(parent.card) and fine_tuned(control.card)
    assert needs_control(child, parent.card)
    assert comparison_parent(variants, child) == (store.get(control.id), "control")
    whole = comparison_parents(variants)  # the one-pass form the tables use agrees
    assert {v.id: (p.id if p else None, k) for v, (p, k) in ((v, whole[v.id]) for v in variants)} == {
        v.id: ((p.id if p else None), k) for v in variants for p, k in [comparison_parent(variants, v)]}
    # without the control the recorded (untrained) parent is used, and the note says why it is unfair
    without = [v for v in variants if v.id != control.id]
    assert comparison_parent(without, child)[0].id == parent.id
    # the card written at the end of the run says so too (against the untrained baseline)
    assert child.card["shrink"]["parent_note"] == PARENT_NOTE
    capsys.readouterr()
    assert main(["show", child.id, "-w", str(ws)]) == 0
    out = capsys.readouterr().out
    assert f"compared with the dense fine-tuned control {control.name}" in out
    assert PARENT_NOTE not in out  # the control was fine-tuned: the comparison is fair


def test_show_offers_the_control_when_there_is_none(tmp_path, family, capsys):
    ws, child, control = family
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    assert main(["delete", control.id, "-w", str(copy)]) == 0
    capsys.readouterr()
    assert main(["show", child.id, "-w", str(copy)]) == 0
    out = capsys.readouterr().out
    assert PARENT_NOTE in out and f"workbench-cli control {child.id}" in out


def test_export_csv_has_one_row_per_variant(tmp_path, family, capsys):
    ws, child, control = family
    out = tmp_path / "variants.csv"
    assert main(["export-csv", str(out), "-w", str(ws)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    variants = Workspace(ws).variants()
    assert [r["id"] for r in rows] == [v.id for v in variants]
    by_name = {r["name"]: r for r in rows}
    row = by_name["tiny-prune"]
    assert float(row["perplexity"]) == pytest.approx(child.card["metrics"]["perplexity"])
    assert row["compared_with"] == control.name
    assert float(row["metric_delta"]) == pytest.approx(
        child.card["metrics"]["perplexity"] - control.card["metrics"]["perplexity"])
    assert row["fine_tuned"] == "True" and by_name["tiny-gpt (base)"]["fine_tuned"] == "False"
    assert float(row["sparsity"]) == pytest.approx(child.card["sparsity"]["overall"])
    capsys.readouterr()
    assert main(["export-csv", "-", "-w", str(ws)]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")


def test_rename_changes_the_index_and_the_card(tmp_path, family, capsys):
    ws, child, _ = family
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    assert main(["rename", "tiny-prune", "half-pruned", "-w", str(copy)]) == 0
    store = Workspace(copy)
    v = store.get(child.id)
    assert v.name == "half-pruned" and v.card["name"] == "half-pruned"
    import json

    assert json.loads((store.run_dir(child.id) / "report.json").read_text())["name"] == "half-pruned"
    assert store.resolve("half-pruned").id == child.id
    with pytest.raises(ValueError, match="already used"):
        store.rename(child.id, "tiny-gpt (base)")
    with pytest.raises(ValueError, match="name is empty"):
        store.rename(child.id, "  ")


def test_delete_removes_the_row_and_the_folder(tmp_path, family, capsys):
    ws, child, _ = family
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    store = Workspace(copy)
    folder = store.run_dir(child.id)
    assert folder.is_dir()
    assert main(["delete", child.id, "-w", str(copy)]) == 0
    assert child.id not in [v.id for v in store.variants()]
    assert not folder.exists()
    assert not any(p.name.startswith(".deleting-") for p in (copy / "runs").iterdir())


def test_a_running_variant_cannot_be_deleted_or_renamed(tmp_path):
    store = Workspace(tmp_path)
    run = store.new_run("busy", "name: busy\n")  # this process holds its lock: it is live
    try:
        with pytest.raises(ValueError, match="is running"):
            store.delete(run.id)
        with pytest.raises(ValueError, match="is running"):
            store.rename(run.id, "other")
        assert store.run_dir(run.id).is_dir() and store.get(run.id).name == "busy"
    finally:
        store.mark(run.id, "cancelled")
    store.delete(run.id)  # once it ended it can go
    assert not store.run_dir(run.id).exists()
