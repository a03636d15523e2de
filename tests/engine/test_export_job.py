"""Re-export as a job: a cancel mid-export keeps the previous ONNX file and card; the CLI verb
streams the job's events and leaves a history entry on the card."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from engine.cli import main
from engine.context_job import ContextJob
from engine.events import Cancelled, Finished, Progress, StageStarted, event_from_json
from engine.export_variant import export_variant
from engine.store import Workspace


@pytest.fixture
def ws_copy(finished_job, tmp_path):
    """A private copy of the session's finished tiny job (tests here change its cards)."""
    root = tmp_path / "ws"
    shutil.copytree(finished_job[0], root)
    return Workspace(root), finished_job[1].run_id


def _file_id(path) -> tuple:
    """Bytes, inode and mtime: a re-export writes the same bytes, but as a new file."""
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_ino, st.st_mtime_ns


def test_cancel_mid_export_keeps_the_previous_file_and_card(ws_copy):
    ws, run_id = ws_copy
    folder = ws.run_dir(run_id)
    before_file, before = _file_id(folder / "model.onnx"), ws.get(run_id)
    events: list = []

    def work(ctx):
        return export_variant(ws, run_id, isolate=True, ctx=ctx, by="cli")

    job = ContextJob("export", work, [events.append], run_id=run_id)

    def cancel_once_written(event) -> None:  # the new file is written, not yet checked
        if isinstance(event, Progress) and event.message == "checking the ONNX file":
            job.cancel()

    job.listeners.append(cancel_once_written)
    result = job.run()
    assert result.status == "cancelled" and result.run_id == run_id
    assert isinstance(events[0], StageStarted) and isinstance(events[-1], Cancelled)
    assert _file_id(folder / "model.onnx") == before_file
    after = ws.get(run_id)
    assert after.card == before.card and after.updated == before.updated
    assert not list(folder.glob(".reexport-*")), "the staging folder is removed"


def test_cli_export_streams_job_events_and_records_who_exported(ws_copy, capsys):
    ws, run_id = ws_copy
    before = ws.get(run_id).card
    assert main(["export", run_id, "-w", str(ws.root), "--events-json"]) == 0
    events = [event_from_json(line) for line in capsys.readouterr().out.splitlines()]
    assert isinstance(events[0], StageStarted) and events[0].stage == "export"
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 5
    assert isinstance(events[-1], Finished) and events[-1].run_id == run_id
    card = ws.get(run_id).card
    assert set(card) - set(before) == {"history"}  # the same fields, plus the history
    assert card["onnx"]["path"] == str(ws.run_dir(run_id) / "model.onnx")
    assert card["onnx"]["checker_ok"] is True and set(card["onnx"]) == set(before["onnx"])
    (entry,) = card["history"]
    assert entry["action"] == "export" and entry["by"] == "cli"
    assert entry["verb"] == "workbench-cli export"
    assert entry["size_bytes"] == card["onnx"]["size_bytes"]
    assert main(["show", run_id, "-w", str(ws.root)]) == 0  # the card's text shows it too
    assert f"export: {entry['at'][:19].replace('T', ' ')} by workbench-cli export" in capsys.readouterr().out
