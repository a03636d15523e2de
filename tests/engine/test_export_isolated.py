"""ONNX export in a child process (the GUI's route): same report, progress, cancel kills the child."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.context import JobCancelled
from engine.events import Log, Progress, StageStarted
from engine.export import ExportError
from engine.export.isolated import export_and_check_isolated
from engine.job import Job
from engine.models.loaders import load_model
from engine.recipe import ExportConfig, ModelSpec, Recipe
from engine.store import Workspace

CFG = ExportConfig(enabled=True, parity_batches=2, latency_runs=3)


def _tiny_gpt():
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    ex = loaded.example_inputs(batch=2, seq=8)
    return loaded, ex


def _children_running() -> list[int]:
    """Our child processes that run the isolated export (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"engine.export.isolated" in cmd:
            out.append(int(d.name))
    return out


def test_child_export_reports_parity_latency_and_relays_its_log(tmp_path):
    loaded, ex = _tiny_gpt()
    lines: list[str] = []
    report = export_and_check_isolated(loaded.module, loaded.input_names, ex, [ex], ex,
                                       tmp_path / "m.onnx", CFG, log=lines.append)
    assert Path(report.path).is_file() and report.size_bytes > 0
    assert report.checker_ok and report.max_abs_diff is not None and report.max_abs_diff < 1e-3
    assert report.latency_ms_p50 is not None and report.latency_shape == (2, 8)
    assert any(line.startswith("ONNX export: wrote m.onnx") for line in lines)  # the child's log
    # the child exits cleanly (it aborted at exit when its stdin watcher used sys.stdin's buffer)
    assert not any("ended with code" in line for line in lines), lines
    assert not _children_running()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_cancel_while_waiting_kills_the_child(tmp_path):
    loaded, ex = _tiny_gpt()
    calls = [0]

    def checkpoint() -> None:
        calls[0] += 1
        if calls[0] == 3:  # the child is running by now (it was started before the first poll)
            assert _children_running()
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        export_and_check_isolated(loaded.module, loaded.input_names, ex, [ex], ex,
                                  tmp_path / "m.onnx", CFG, checkpoint=checkpoint)
    assert not _children_running()
    assert not (tmp_path / "m.onnx").exists()


def test_a_failing_check_is_an_export_error_with_the_childs_reason(tmp_path):
    fc = nn.Linear(4, 3)  # torch's own class: the child can unpickle it
    x, wrong = torch.randn(2, 4), torch.randn(2, 5)  # parity inputs of the wrong width
    with pytest.raises(ExportError) as err:
        export_and_check_isolated(fc, ["input"], (x,), [(wrong,)], (x,), tmp_path / "f.onnx", CFG)
    assert "checking it in onnxruntime failed" in str(err.value)
    assert not _children_running()


def test_a_module_that_cannot_be_pickled_is_exported_here(tmp_path):
    class Local(nn.Module):  # defined in a function: the child could not import it
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    x = torch.randn(2, 4)
    lines: list[str] = []
    report = export_and_check_isolated(Local(), ["input"], (x,), [(x,)], (x,), tmp_path / "l.onnx",
                                       CFG, log=lines.append)
    assert report.checker_ok and Path(report.path).is_file()
    assert any(line.startswith("ONNX export in this process") for line in lines)


JOB_RECIPE = """
name: isolated
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 200}
methods:
  - {type: unstructured_prune, amount: 0.5}
train: {epochs: 1, max_steps: 2, batch_size: 4, eval_every: 2, eval_batches: 2}
export: {enabled: true, parity_batches: 1, latency_runs: 3, latency_seq: 16}
"""


def test_a_gui_job_exports_in_a_child_and_the_baseline_stage_shows_progress(tmp_path):
    events: list = []
    # the TorchScript exporter (opset 17): seconds in each child where dynamo takes tens; the
    # child route with the default exporter is test_child_export_reports_parity_latency...
    recipe = Recipe.from_yaml(JOB_RECIPE.replace("export: {", "export: {opset: 17, "))
    result = Job(recipe, [events.append], workspace=tmp_path, isolate_export=True).run()
    assert result.ok, result.error
    assert Path(result.card["onnx"]["path"]).is_file() and result.card["onnx"]["checker_ok"]
    stages = [i for i, e in enumerate(events) if isinstance(e, StageStarted)]
    start = next(i for i in stages if events[i].stage == "baseline")
    end = next(i for i in stages if i > start)
    progress = [e for e in events[start:end] if isinstance(e, Progress)]
    messages = [e.message for e in progress]
    for step in ("evaluating batch 1/", "checking the ONNX file", "measuring ONNX latency"):
        assert any(m.startswith(step) for m in messages), messages
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0.08 <= fractions[0] and fractions[-1] <= 0.2
    assert not _children_running()


def test_cancel_during_a_child_export_cancels_the_job(tmp_path):
    job = Job(Recipe.from_yaml(JOB_RECIPE), workspace=tmp_path, isolate_export=True)

    def cancel_at_export(ev) -> None:
        if isinstance(ev, Log) and ev.message.startswith("ONNX export: "):  # the child is running
            job.cancel()

    job.listeners.append(cancel_at_export)
    result = job.run()
    assert result.status == "cancelled"
    assert not _children_running()
    baseline = Workspace(tmp_path).variants()[0]
    assert baseline.status == "cancelled"
    assert not (Workspace(tmp_path).run_dir(baseline.id) / "model.onnx").exists()
