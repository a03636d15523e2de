"""Workspace store: index, statuses, atomic writes, crash detection."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from engine.store import Workspace, atomic_write_text


def test_new_run_is_running_then_finished(tmp_path):
    ws = Workspace(tmp_path / "ws")
    v = ws.new_run("a", "name: a\n")
    assert v.status == "running"
    assert (ws.run_dir(v.id) / "recipe.yaml").read_text() == "name: a\n"
    ws.finish(v.id, {"id": v.id, "metrics": {"accuracy": 0.5}})
    got = ws.get(v.id)
    assert got.status == "finished"
    assert got.card["metrics"]["accuracy"] == 0.5
    assert json.loads((ws.run_dir(v.id) / "report.json").read_text())["id"] == v.id


def test_resolve_by_name_takes_newest_finished(tmp_path):
    ws = Workspace(tmp_path)
    a = ws.new_run("dense", "x")
    ws.finish(a.id, {})
    b = ws.new_run("dense", "x")
    ws.finish(b.id, {})
    c = ws.new_run("dense", "x")
    ws.mark(c.id, "cancelled")
    assert ws.resolve("dense").id == b.id
    assert ws.resolve(a.id).id == a.id
    with pytest.raises(KeyError, match="no finished variant"):
        ws.resolve("sparse")


def test_run_left_running_by_dead_process_becomes_crashed(tmp_path):
    ws = Workspace(tmp_path)
    code = (
        "import sys; from engine.store import Workspace; "
        f"v = Workspace({str(tmp_path)!r}).new_run('dies', 'x'); print(v.id)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.getcwd())
    run_id = out.stdout.strip()
    reopened = Workspace(tmp_path)
    assert reopened.get(run_id).status == "crashed"
    assert ws.variants("finished") == []


def test_atomic_write_leaves_no_temp_and_keeps_old_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    class Boom(str):
        def encode(self, *a, **k):  # noqa: D401 - fails mid-write
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_text(target, Boom("new"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_workspace_on_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        Workspace(f)


def test_schema_has_documented_columns(tmp_path):
    ws = Workspace(tmp_path)
    cols = {r[1] for r in sqlite3.connect(ws.db_path).execute("PRAGMA table_info(variants)")}
    assert {"id", "parent", "name", "recipe", "status", "card", "created", "updated"} <= cols
