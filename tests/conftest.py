"""Suite-wide setup for parallel runs (`make test` runs pytest-xdist with 2 workers).

Under xdist each worker is its own process sharing the machine's cores with the others, so
each one computes on a single thread: torch's default (one thread per core) in every worker
would put 2 x cores threads on the cores and make each test slower than running alone.
A plain `pytest FILE` (no PYTEST_XDIST_WORKER) keeps torch's default.

`make test` passes `--dist loadgroup`; the hook below makes every test file one unit of work
(as `--dist loadfile` would): a file's module-scoped fixtures (a trained model, a quantized
job) are built once, on one worker, not once on each. Files that share one run kept by a
helper module (tests/gui/quantized_run.py...) go to that helper's group, so the run happens
once in the suite. Tests that time real processes (tests/engine/test_kill_and_interrupt.py)
thus run one after another on one worker.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # before torch (and its OpenMP runtime) is imported by any test module
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

# helper modules that run one real job per process and hand it to several test files
SHARED_RUNS = ("tests.gui.quantized_run", "tests.gui.static_quantized_run")


def _group(item: pytest.Item) -> str:
    """The helper whose shared run the test's module uses, else the test's file."""
    module = getattr(item, "module", None)
    used = {getattr(v, "__module__", None) for v in vars(module).values()} if module else set()
    shared = sorted(used.intersection(SHARED_RUNS))
    return shared[0] if shared else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("dist", "no") != "loadgroup":
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_group(item)))
