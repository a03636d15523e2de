"""bench/distill_minilm.py's helpers: the recipes it runs validate, its --settings parse.

MiniLM itself is not run here (minutes); this checks the bench's recipes are ones the
workbench accepts, so a broken bench shows in the suite rather than after a long run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("distill_minilm", BENCH / "distill_minilm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_parse_and_name_rows(bench) -> None:
    assert bench.parse_setting("0.2,4") == (0.2, 4.0, 0.0)
    assert bench.parse_setting("0.5,2,1") == (0.5, 2.0, 1.0)
    with pytest.raises(ValueError, match="alpha,T"):
        bench.parse_setting("0.5")
    assert bench.row_name(1.0, 2.0, 0.0) == "student task only"
    assert bench.row_name(0.5, 2.0, 0.0) == "student KD a=0.5 T=2"
    assert bench.row_name(1.0, 2.0, 1.0) == "student KD a=1 T=2 h=1"


def test_recipes_validate_with_the_layer_drop_step(bench) -> None:
    step = {"type": "distill", "student": "layer_drop", "keep_layers": [0, 2, 4],
            "alpha": 0.5, "temperature": 2.0, "hidden_weight": 0.0}  # fmt: skip
    rec = bench.recipe("kd", 7, True, step)
    rec.validate()
    assert rec.train.max_steps == 7 and rec.data.max_samples == 300
    assert tuple(rec.methods[0].keep_layers) == (0, 2, 4) and rec.methods[0].alpha == 0.5
    teacher = bench.recipe("teacher", 7, False, None, train=False)
    teacher.validate()
    assert teacher.methods == () and teacher.train.epochs == 0 and teacher.export.enabled
