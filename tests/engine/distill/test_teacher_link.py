"""The card names the teacher's workspace run, and the teacher side's numbers come from it
(or, for a teacher from outside the workspace, from the step's own record); the CLI prints them."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.methods.distill.teacher_link import (
    compare_with_teacher,
    distill_step,
    student_vs_teacher,
    teacher_line,
)
from engine.store import Workspace
from tests.engine.distill.teacher_runs import teacher_runs


@pytest.fixture(scope="module")
def runs():
    return teacher_runs()


@pytest.fixture(scope="module")
def ws(runs):
    return Workspace(runs.root)


def test_teacher_parent_records_the_baseline_run(runs, ws):
    step = distill_step(runs.student.card)
    assert step["teacher_run"] == runs.student.parent_id
    baseline = ws.get(step["teacher_run"])
    assert baseline.status == "finished" and baseline.card["method"] == "none"
    # the keys the card had before stay
    assert {"teacher", "teacher_bytes", "teacher_metrics", "teacher_params", "notes"} <= set(step)


def test_the_teacher_side_is_the_baseline_runs_own_card(runs, ws):
    c = compare_with_teacher(ws, runs.student.run_id)
    base = ws.get(runs.student.parent_id).card
    assert c.in_workspace and c.teacher.run_id == runs.student.parent_id
    assert c.teacher.params == base["model"]["params"]
    assert c.teacher.size_bytes == base["onnx"]["size_bytes"] and c.size_label == "ONNX file"
    assert c.student.params == runs.student.card["model"]["params"]
    # measured by the step on the student's validation split: the baseline's own figure
    assert c.teacher.metric == ("perplexity", pytest.approx(base["metrics"]["perplexity"], rel=1e-4))
    params, size, latency, metric = c.rows()
    assert params.ratio == f"{c.student.params / c.teacher.params:.2f}× params" == "0.55× params"
    assert size.ratio == f"{c.student.size_bytes / c.teacher.size_bytes:.2f}× size"
    # the parent was timed beside the student in its deploy stage: that pair, not two sessions
    fp32 = runs.student.card["artifacts"][0]
    assert c.teacher.latency_ms == fp32["parent_latency_ms_p50"] and "side by side" in c.latency_note
    assert latency.ratio.endswith(("faster", "slower"))
    ratio = runs.student.card["metrics"]["perplexity"] / c.teacher.metric[1]
    assert metric.ratio == f"{ratio:.2f}× teacher's"


def test_a_variant_teacher_records_its_run_and_is_read_from_it(runs, ws):
    step = distill_step(runs.pupil.card)
    assert step["teacher_run"] == runs.student.run_id != runs.pupil.parent_id
    c = compare_with_teacher(ws, runs.pupil.run_id)
    assert c.teacher.name == runs.student.card["name"]
    assert c.teacher.params == runs.student.card["model"]["params"]
    assert c.teacher.latency_ms == runs.student.card["onnx"]["latency_ms_p50"]
    assert c.latency_note == "latency: ONNX p50, each as measured in its own run"
    # the teacher's metric on the pupil's validation split, as the step measured it
    assert c.teacher.metric == ("perplexity", step["teacher_metrics"]["perplexity"])


def test_a_teacher_outside_the_workspace_falls_back_to_the_steps_record(runs, ws):
    step = distill_step(runs.outsider.card)
    assert "teacher_run" not in step
    c = compare_with_teacher(ws, runs.outsider.run_id)
    assert not c.in_workspace and c.size_label == "Size in memory"
    assert c.teacher.params == step["teacher_params"] and c.teacher.size_bytes == step["teacher_bytes"]
    assert c.teacher.latency_ms is None and "not measured" in c.latency_note
    assert c.rows()[2].teacher == "not measured" and c.rows()[2].ratio == "–"
    assert c.teacher.metric == ("perplexity", pytest.approx(step["teacher_metrics"]["perplexity"]))


def test_a_variant_that_was_not_distilled_has_no_teacher(runs, ws):
    base = ws.get(runs.student.parent_id)
    assert student_vs_teacher(base, ws.variants()) is None and teacher_line(base.card) is None


def test_cli_show_prints_the_teacher_and_the_ratios(runs, capsys):
    assert main(["show", "-w", str(runs.root), runs.student.run_id]) == 0
    out = capsys.readouterr().out
    base = Workspace(runs.root).get(runs.student.parent_id)
    assert f"Teacher: {base.name} (perplexity " in out
    line = next(line for line in out.splitlines() if line.strip().startswith("Parameters"))
    assert line.split()[-2:] == ["0.55×", "params"]
