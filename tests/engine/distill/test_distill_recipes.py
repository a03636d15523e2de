"""Each shipped tiny distillation recipe (one per student builder and loss) runs end to end,
shortened, and does what its comment says: the parts it trains on reach the metrics log and
the card describes the student it built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.job import Job
from engine.recipe import Recipe
from tests.engine.conftest import shipped_small

RECIPES = Path(__file__).resolve().parents[3] / "assets" / "recipes"

# recipe -> (loss parts logged, a check on the distill step's card entry)
CASES = {
    "distill-tiny-gpt-smaller": ({"task", "kd", "hidden"}, lambda s: s["student_blocks"] == 2),
    "distill-tiny-bert-attention": ({"task", "kd", "attention"}, lambda s: s["kept_blocks"] == [0]),
    "distill-tiny-gpt-offline": ({"task", "kd"}, lambda s: s["offline"]["file_bytes"] > 0),
    "distill-tiny-bert-pruned-student": ({"task", "kd", "hidden"}, lambda s: "teacher" in s),
}


@pytest.mark.parametrize("stem", sorted(CASES))
def test_shipped_distill_recipe_runs(stem: str, tmp_path: Path) -> None:
    recipe = Recipe.load(RECIPES / f"{stem}.yaml")
    recipe = shipped_small(recipe, max_samples=64, steps=3, log_every=1)
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    parts, check = CASES[stem]
    step = result.card["steps"][-1]
    assert check(step), step
    rows = (tmp_path / "runs" / result.run_id / "metrics.jsonl").read_text().splitlines()
    names = {json.loads(r).get("name") for r in rows}
    assert {f"train/loss/{p}" for p in parts} <= names
    assert result.card["model"]["params"] < result.card["model"]["params_before"]
