"""Suite-wide setup for parallel runs (`make test` runs pytest-xdist with 2 workers).

Under xdist each worker is its own process sharing the machine's cores with the others, so
each one computes on a single thread: torch's default (one thread per core) in every worker
would put 2 x cores threads on the cores and make each test slower than running alone.
A plain `pytest FILE` (no PYTEST_XDIST_WORKER) keeps torch's default.

`make test` passes `--dist loadfile`: each test file runs whole on one worker, so a file's
module-scoped fixtures (a trained model, a quantized job) are built once, not once per
worker, and the tests that time real processes (tests/engine/test_kill_and_interrupt.py)
run one after another. The scheduler below also keeps together the files that import one
run kept by a helper module (SHARED_RUNS), so that run happens once in the suite.
(`--dist loadgroup` would do this with xdist_group marks, but xdist 3.8 renames node ids
through Node._nodeid, which pytest 9 no longer reads, so its groups are ignored.)
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # before torch (and its OpenMP runtime) is imported by any test module
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

ROOT = Path(__file__).resolve().parents[1]
# modules that run real jobs once per process (module globals, functools.cache) for several files
SHARED_RUNS = ("tests.gui.quantized_run", "tests.gui.static_quantized_run", "tests.gui.test_compare_page")


@functools.cache
def unit_of_work(path: str) -> str:
    """The shared-run module a test file is or imports from, else the file itself."""
    module = path.removesuffix(".py").replace("/", ".")
    try:
        text = (ROOT / path).read_text(encoding="utf-8")
    except OSError:
        return path
    return next((m for m in SHARED_RUNS if m == module or f"from {m} import" in text), path)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedRunScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid.split("::", 1)[0])

    return SharedRunScheduling(config, log)
