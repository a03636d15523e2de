"""Suite-wide setup for parallel runs (`make test` runs pytest-xdist with 2 workers).

Under xdist each worker is its own process sharing the machine's cores with the others, so
each one computes on a single thread: torch's default (one thread per core) in every worker
would put 2 x cores threads on the cores and make each test slower than running alone.
A plain `pytest FILE` (no PYTEST_XDIST_WORKER) keeps torch's default.

`make test` passes `--dist loadfile`: each test file runs whole on one worker, so a file's
module-scoped fixtures (a trained model, a quantized job) are built once, not once per
worker, and the tests that time real processes (tests/engine/test_kill_and_interrupt.py)
run one after another. (`--dist loadgroup` with xdist_group marks would let several files
share a worker, but xdist 3.8 cannot rename pytest 9's node ids, so its groups are ignored.)
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    # before torch (and its OpenMP runtime) is imported by any test module
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
