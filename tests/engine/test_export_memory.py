"""Exporting a ~100M-parameter Llama stays within a small multiple of its fp32 size.

Slow (minutes, ~2.5 GB of RAM): runs only when slow tests are selected, e.g.
    OMP_NUM_THREADS=2 .venv/bin/python -m pytest -m slow tests/engine/test_export_memory.py
It runs bench/export_memory.py, which exports through the engine's real path
(export_loaded, as a job does) and samples the RSS of the whole process tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Peak memory the export adds, over the fp32 size of the weights (measured: in-process
# 1.4x RSS; isolated 3.4x RSS, 3.1x PSS, 1.8x anonymous). The isolated export's child
# starts its own Python, torch and transformers (~0.5 GB whatever the model) and maps
# its copy of the weights from the payload file while the onnxruntime session holds
# another: clean file pages the kernel can drop, so for the child the limit is on the
# anonymous memory, with PSS (shared library pages counted once) kept from growing.
MAX_EXTRA = {
    "in-process": {"export_extra_ratio": 3.0},
    "isolated": {"anon_extra_ratio": 3.0, "pss_extra_ratio": 3.5},
}


def _bench(tmp_path: Path, *flags: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "export_memory.py"), "--out", str(tmp_path), *flags],
        capture_output=True, text=True, env=env, timeout=1500,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _only_when_slow_is_selected(request):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("takes minutes and GBs of RAM: run with -m slow")


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mode", ["in-process", "isolated"])
def test_a_100m_llama_exports_within_3x_its_size(tmp_path, mode):
    flags = ("--in-process",) if mode == "in-process" else ()
    got = _bench(tmp_path, *flags)
    assert 90e6 < got["params"] < 200e6
    for figure, limit in MAX_EXTRA[mode].items():
        assert got[figure] <= limit, (figure, got)
    # the file came out with its weights beside it, not in one protobuf
    assert (tmp_path / "model.onnx.data").stat().st_size > 0.9 * got["model_bytes"]
