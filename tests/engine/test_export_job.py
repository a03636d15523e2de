"""Re-export as a job: a cancel mid-export keeps the previous ONNX file and card.

(The CLI verb's events and the record it leaves next to the GUI's: tests/gui/test_parity_verbs.py.)"""

from __future__ import annotations

import hashlib
import shutil

import pytest

from engine.context_job import ContextJob
from engine.events import Cancelled, Progress, StageStarted
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
