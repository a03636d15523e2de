"""The stages of a rank other than 0 in a multi-process (DDP) run.

Every rank loads the same model and data, applies the same methods and trains (DDP keeps
their weights equal); only rank 0 registers the run, saves, exports and writes the card.
The others stop after training: nothing they do reaches the workspace. A step that keeps
files (a distillation teacher's outputs) writes them to a scratch folder that is removed
when the process ends.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.stage_load import load_stage
from engine.stage_model import methods_stage, train_stage

if TYPE_CHECKING:  # the pipeline imports this module
    from engine.stages import JobState, Pipeline


def worker_setup_stage(p: Pipeline, s: JobState) -> None:
    """Like setup_stage without registering anything: a scratch folder stands for the run's."""
    p.stage = "setup"
    if p.resume_run:  # rank 0's state would have to be read from its run folder: not yet
        raise ValueError("resuming a multi-process (ddp) run is not supported yet; run the "
                         "recipe again")
    folder = Path(tempfile.mkdtemp(prefix="workbench-rank-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    s.folder = folder
    s.started = time.time()
    s.loaded.module.to(s.device)


WORKER_STAGES: tuple[Callable[[Pipeline, JobState], None], ...] = (
    load_stage, worker_setup_stage, methods_stage, train_stage,
)  # fmt: skip
