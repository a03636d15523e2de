"""Real processes: kill -9 at several stages, Ctrl+C and SIGTERM, two first runs at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main
from engine.store import Workspace
from tests.engine.conftest import TINY_RECIPE

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
LONG = TINY_RECIPE.replace("max_steps: 8", "max_steps: 400").replace("log_every: 2", "log_every: 1") \
    .replace("eval_every: 4", "eval_every: 1000, checkpoint_every: 2")


def _start(recipe: Path, ws: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(recipe), "-w", str(ws), "--events-json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
    )


def _wait_for(proc: subprocess.Popen, wanted) -> dict:
    """Read the child's JSON events until one satisfies `wanted`."""
    for line in proc.stdout:
        event = json.loads(line)
        if wanted(event):
            return event
    raise AssertionError(f"the run ended before the awaited event: {proc.stderr.read()[-2000:]}")


def _stage(name: str):
    return lambda e: e["event"] == "StageStarted" and e["stage"] == name


def _baseline_exporting(e: dict) -> bool:
    return e["event"] == "Progress" and e["message"] == "baseline evaluated"


def _training(e: dict) -> bool:
    return e["event"] == "Metric" and e["name"] == "train/loss" and e["step"] >= 3


def _litter(ws: Path) -> list[str]:
    return [str(p) for p in (ws / "runs").rglob("*.tmp")]


def test_kill_9_at_each_stage_leaves_a_sound_workspace(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LONG)
    ws = tmp_path / "ws"
    # killed while building the baseline, mid-training, and in the export (a short recipe)
    for text, moment in ((LONG, _baseline_exporting), (LONG, _training), (TINY_RECIPE, _stage("export"))):
        recipe.write_text(text)
        proc = _start(recipe, ws)
        _wait_for(proc, moment)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # a clean run afterwards: the workspace still works and its baseline is reused (in this
    # process: a child would add seconds of imports and test nothing more)
    assert main(["run", str(recipe), "-w", str(ws), "-q"]) == 0
    with sqlite3.connect(ws / "workspace.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    variants = Workspace(ws).variants()
    statuses = [v.status for v in variants]
    assert "running" not in statuses
    assert statuses.count("crashed") == 3
    for v in variants:
        if v.status == "finished":
            assert v.missing is None
            report = json.loads((ws / "runs" / v.id / "report.json").read_text())
            assert report["id"] == v.id
    assert _litter(ws) == []


def _interrupt(tmp_path: Path, sig: int) -> tuple[subprocess.Popen, str]:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LONG)
    proc = _start(recipe, tmp_path / "ws")
    _wait_for(proc, _training)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_cancels_the_run_exit_130(tmp_path, sig):
    proc, err = _interrupt(tmp_path, sig)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err
    runs = {v.name: v for v in Workspace(tmp_path / "ws").variants()}
    assert runs["tiny-prune"].status == "cancelled"
    assert runs["tiny-gpt (base)"].status == "finished"
    assert Workspace(tmp_path / "ws").resumable(runs["tiny-prune"].id)


def test_ctrl_c_works_even_when_the_parent_ignored_sigint(tmp_path):
    """A shell's background job (or a GUI started from one) hands SIGINT down ignored."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LONG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(recipe), "-w", str(tmp_path / "ws"), "--events-json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    _wait_for(proc, _training)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err


def test_two_first_runs_into_one_workspace_share_one_baseline(tmp_path):
    ws = tmp_path / "ws"
    procs = []
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(TINY_RECIPE.replace("name: tiny-prune", f"name: {name}"))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", str(tmp_path / f"{name}.yaml"), "-w", str(ws), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    variants = Workspace(ws).variants()
    bases = [v for v in variants if v.name.endswith("(base)")]
    assert len(bases) == 1
    assert {v.parent for v in variants if v.name in ("a", "b")} == {bases[0].id}


def _wait_until_sigint_is_caught(pid: int) -> None:
    """Until engine.cli.main() takes SIGINT over, its first step (torch is imported after).

    A fixed sleep missed that moment on a loaded machine: a signal sent while the inherited
    SIG_IGN still stands is dropped and the 400-step run goes on. Without /proc, 1 s.
    """
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        caught = next(line for line in status.read_text().splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.005)
    raise AssertionError("the CLI never installed its SIGINT handler")


def test_ctrl_c_in_the_first_second_is_exit_130_without_a_traceback(tmp_path):
    """While torch is still importing: one line, nothing registered."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LONG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", str(recipe), "-w", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    _wait_until_sigint_is_caught(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert all(v.status != "running" for v in Workspace(tmp_path / "ws").variants())
