"""bench/distill_gpt.py --quick end to end: the teacher run, four student runs, the table.

A few steps on 60 blocks of 32 bytes through the real Job (no figures are checked, only that
the bench runs and prints every row, the verdict, and that the distill runs measured the
same teacher the teacher row shows: the same validation split).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "distill_gpt.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("distill_gpt", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["distill_gpt"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_kd_setting_parses(bench) -> None:
    assert bench.parse_kd("0.5,2") == (0.5, 2.0, 0.0)
    assert bench.parse_kd("0,1,0.5") == (0.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="alpha,T"):
        bench.parse_kd("0.5")
    assert bench.kd_label(0.0, 1.0, 0.5) == "KD a=0 T=1 h=0.5"


def test_quick_run_prints_every_row_and_the_verdict(bench, tmp_path, capsys) -> None:
    assert bench.main(["--quick", "--kd", "0.5,1", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Shakespeare validation perplexity"):]
    names = ["teacher (4 blocks)",
             "layer drop [0, 2], task only", "layer drop [0, 2], KD a=0.5 T=1",
             "smaller 2 blocks (random init), task only",
             "smaller 2 blocks (random init), KD a=0.5 T=1"]  # fmt: skip
    rows = {}
    for name in names:
        line = next(ln for ln in table.splitlines() if ln.strip().startswith(name + "  "))
        rows[name] = float(re.search(r"([\d.]+) ± [\d.]+", line).group(1))
    assert all(v > 1.0 for v in rows.values())  # a perplexity, not a loss or an empty cell
    assert table.count("lower perplexity than task only") == 2
    assert re.search(r"verdict: (met|NOT met) \(means over seeds\)", table)
    seen = re.search(r"measured it: \[([\d.]+)\]", table)
    assert seen and float(seen.group(1)) == pytest.approx(rows["teacher (4 blocks)"], abs=1e-3)
