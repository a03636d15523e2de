"""Run locks: a run whose process is gone is crashed whatever the hostname; mark-crashed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from engine import store_locks
from engine.cli import main
from engine.store import Workspace

ROOT = Path(__file__).resolve().parents[2]

HOLD = """
import sys, time
from engine.store import Workspace
ws = Workspace(sys.argv[1])
v = ws.new_run('held', 'name: held\\n')
(ws.run_dir(v.id) / '.model.onnx.abc.tmp').mkdir()          # what a killed exporter leaves
(ws.run_dir(v.id) / '.report.json.x1.tmp').write_text('{')  # and a killed atomic write
print(v.id, flush=True)
time.sleep(120)
"""


def _holder(ws: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ws)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, proc.stdout.readline().strip()


def test_flock_conflicts_inside_one_process_and_dies_with_release(tmp_path):
    lock = tmp_path / "locks" / "a.lock"
    assert store_locks.try_acquire(lock)
    assert store_locks.is_held(lock)
    assert f"pid {os.getpid()}" in store_locks.holder(lock)
    store_locks.release(lock)
    assert not store_locks.is_held(lock)


def test_killed_run_is_crashed_even_under_another_hostname_and_its_temp_files_go(tmp_path):
    proc, run_id = _holder(tmp_path)
    try:
        ws = Workspace(tmp_path)
        assert ws.get(run_id).status == "running"  # its process lives and holds the lock
        # a container restarted under a new hostname: host and pid say nothing any more
        with sqlite3.connect(ws.db_path) as db:
            db.execute("UPDATE variants SET host='another-host', pid=1 WHERE id=?", (run_id,))
        assert Workspace(tmp_path).get(run_id).status == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    crashed = Workspace(tmp_path).get(run_id)
    assert crashed.status == "crashed" and "ended without finishing" in crashed.error
    assert sorted(p.name for p in (tmp_path / "runs" / run_id).iterdir()) == ["recipe.yaml"]


def test_listing_notices_a_crash_without_reopening_the_workspace(tmp_path):
    ws = Workspace(tmp_path)
    proc, run_id = _holder(tmp_path)
    assert [v.status for v in ws.variants()] == ["running"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [v.status for v in ws.variants()] == ["crashed"]


def test_mark_crashed_refuses_a_live_run_unless_forced(tmp_path, capsys):
    proc, run_id = _holder(tmp_path)
    try:
        assert main(["mark-crashed", run_id, "-w", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "is still running (pid" in err and "--force" in err
        assert Workspace(tmp_path).get(run_id).status == "running"
        assert main(["mark-crashed", run_id, "-w", str(tmp_path), "--force"]) == 0
        assert f"run {run_id} marked crashed" in capsys.readouterr().out
        v = Workspace(tmp_path).get(run_id)
        assert v.status == "crashed" and "marked crashed by the user" in v.error
    finally:
        proc.kill()
        proc.wait()


def test_a_run_that_finishes_is_never_turned_crashed(tmp_path):
    ws = Workspace(tmp_path)
    v = ws.new_run("ok", "name: ok\n")
    ws.finish(v.id, {"id": v.id})
    assert not store_locks.is_held(ws.lock_path(v.id))  # released once the status is written
    assert not ws.mark_crashed(v.id)
    assert Workspace(tmp_path).get(v.id).status == "finished"


def test_reserve_file_exists_and_can_be_released(tmp_path):
    ws = Workspace(tmp_path)
    reserve = tmp_path / ".space-reserve"
    assert reserve.stat().st_size >= 1 << 20
    assert ws.release_reserve() and not reserve.exists()
    Workspace(tmp_path)
    assert reserve.exists()


def test_a_locked_database_names_who_holds_it(tmp_path, monkeypatch, capsys):
    Workspace(tmp_path)
    code = ("import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "workspace.sqlite")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        monkeypatch.setattr(Workspace, "busy_timeout_s", 0.3)
        t0 = time.monotonic()
        assert main(["list", "-w", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"workspace.sqlite is locked by pid {proc.pid}" in err, err
        assert "Traceback" not in err and time.monotonic() - t0 < 10
    finally:
        proc.kill()
        proc.wait()
