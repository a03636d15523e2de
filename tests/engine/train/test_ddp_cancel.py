"""A 2-process run ends together: Ctrl+C cancels every rank and records the run as cancelled;
a rank that dies fails the run with that rank's cause, in one line (real torchrun processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.relay_stderr import StderrFilter
from engine.store import Workspace

ROOT = Path(__file__).resolve().parents[3]
RECIPE = """name: ddp-long
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 40}
train: {epochs: 1000, max_steps: 2000, batch_size: 4, lr: 0.0005, eval_every: 100000,
        eval_batches: 1, log_every: 1, device: cpu, strategy: ddp, nproc_per_node: 2}
export: {enabled: false}
"""


def _start(tmp: Path) -> subprocess.Popen:
    recipe = tmp / "long.yaml"
    recipe.write_text(RECIPE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(recipe), "-w", str(tmp / "ws"),
         "--events-json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)  # fmt: skip


def _wait_for_step(proc: subprocess.Popen, step: int) -> None:
    for line in proc.stdout:  # type: ignore[union-attr]
        event = json.loads(line)
        if event["event"] == "Metric" and event["name"] == "train/loss" and event["step"] >= step:
            return
    raise AssertionError(f"the run ended before step {step}: {proc.stderr.read()[-2000:]}")


def _rank_pids(recipe_dir: Path) -> dict[int, int]:
    """pid of each rank process (its environment holds RANK), from /proc."""
    pids = {}
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes()
            if str(recipe_dir).encode() not in cmd or b"torch.distributed.run" in cmd:
                continue
            env = dict(v.split(b"=", 1) for v in (entry / "environ").read_bytes().split(b"\0")
                       if b"=" in v)  # fmt: skip
        except OSError:
            continue
        if b"RANK" in env and b"LOCAL_RANK" in env:
            pids[int(env[b"RANK"])] = int(entry.name)
    return pids


def test_ctrl_c_cancels_every_rank_and_records_the_run_cancelled(tmp_path):
    proc = _start(tmp_path)
    _wait_for_step(proc, 2)
    ranks = _rank_pids(tmp_path)
    assert sorted(ranks) == [0, 1]
    proc.send_signal(signal.SIGINT)  # Ctrl+C reaches the relay; it forwards it to the ranks
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    events = [json.loads(line)["event"] for line in rest.splitlines()]
    assert events[-1] == "Cancelled" and "Failed" not in events
    assert "Traceback" not in err  # torchrun's own report of the signal is not shown
    (v,) = Workspace(tmp_path / "ws").variants()
    assert v.status == "cancelled"
    for pid in ranks.values():  # both ranks are gone
        assert not Path(f"/proc/{pid}").exists() or "Z" in (Path(f"/proc/{pid}/stat")
                                                            .read_text().split()[2])  # fmt: skip


@pytest.mark.slow
def test_a_rank_that_dies_fails_the_run_with_its_cause(tmp_path):
    proc = _start(tmp_path)
    _wait_for_step(proc, 2)
    os.kill(_rank_pids(tmp_path)[1], signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    # the relay's last events: rank 1's row marked failed, then the run's Failed with the cause
    *_, row, failed = [json.loads(line) for line in out.splitlines()]
    assert (row["event"], row["rank"], row["state"]) == ("RankState", 1, "failed")
    assert failed["event"] == "Failed" and "local rank 1 died" in failed["error"]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["error: training process of local rank 1 died (killed by SIGKILL)"]
    (v,) = Workspace(tmp_path / "ws").variants()
    assert v.status == "failed" and "local rank 1 died" in (v.error or "")


TORCHRUN_FAILURE = """\
W1203 08:38:13.821000 13158 .venv/lib/python3.11/site-packages/torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 13163 closing signal SIGTERM
E1203 08:38:13.936000 13158 .venv/lib/python3.11/site-packages/torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: -9) local_rank: 1 (pid: 13164) of binary: /work/main/.venv/bin/python
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/x/site-packages/torch/distributed/run.py", line 1032, in <module>
    main()
    ^^^^^^
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
=======================================================
engine.cli FAILED
-------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 13164)  (SIGKILL)
=======================================================
error: rank 1: ValueError during train: something of ours
Traceback (most recent call last):
  File "job.py", line 3, in run
ValueError: a rank's own traceback (WORKBENCH_DEBUG) passes
"""


def test_torchrun_reports_are_dropped_and_what_they_say_is_kept():
    shown: list[str] = []
    errors = StderrFilter(shown.append)
    for line in TORCHRUN_FAILURE.splitlines(keepends=True):
        errors.feed(line)
    assert [s.rstrip("\n") for s in shown] == [
        "error: rank 1: ValueError during train: something of ours",
        "Traceback (most recent call last):",
        '  File "job.py", line 3, in run',
        "ValueError: a rank's own traceback (WORKBENCH_DEBUG) passes",
    ]
    assert errors.crashes == [("1", -9)] and errors.rank_errors[0][0] == "1"
    assert errors.crash_message() == "training process of local rank 1 died (killed by SIGKILL)"
