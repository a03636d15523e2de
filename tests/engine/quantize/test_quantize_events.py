"""Live events of an int8 step: calibration progress counted as onnxruntime reads the
samples, the per-node errors as soon as they are measured, each exclusion-search round;
all of them survive the JSON lines the GUI's process runner reads."""

from __future__ import annotations

import onnx
import pytest

from engine.events import (
    CalibrationProgress,
    ExclusionStep,
    NodeErrors,
    event_from_json,
    event_to_json,
)
from engine.methods.quantize.int8_config import DynamicInt8Config, StaticInt8Config
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic, quantize_int8_static
from tests.engine.quantize.int8_models import bundle, context, export_textnet


@pytest.fixture(scope="module")
def textnet(tmp_path_factory):
    return export_textnet(tmp_path_factory.mktemp("fp32") / "model.onnx")


def test_new_events_round_trip_through_json_lines():
    err = {"node": "/body.0/MatMul", "op_type": "MatMul", "layer": "body.0", "sqnr_db": 31.5,
           "rel_error": 0.0266, "local_sqnr_db": 33.0}  # fmt: skip
    events = [
        CalibrationProgress(step=2, done=24, total=64, phase="calibration", attempt=3),
        CalibrationProgress(step=1, done=8, total=16, phase="node-error"),
        NodeErrors(step=1, errors=[err, {**err, "node": "/body.1/MatMul", "sqnr_db": 12.0}]),
        ExclusionStep(step=1, round=2, excluded=["/body.1/MatMul"], metrics={"accuracy": 0.75},
                      size_bytes=12345, met=False, goal="accuracy ≥ 0.8"),  # fmt: skip
    ]
    for ev in events:
        line = event_to_json(ev)
        assert "\n" not in line and event_from_json(line) == ev
    with pytest.raises(ValueError, match="not a workbench event line"):
        event_from_json('{"event": "NodeErrors", "step": 1, "rows": []}')


def _progress_log(calls: list[tuple[float, str]]):
    return lambda fraction, message: calls.append((fraction, message))


def test_static_run_emits_calibration_progress_of_exactly_the_requested_samples(textnet, tmp_path):
    events, progress = [], []
    actx = context(textnet, tmp_path, bundle(n_train=40), emit=events.append,
                   progress=_progress_log(progress), step=2)  # fmt: skip
    result = quantize_int8_static(StaticInt8Config(calibration_samples=13), actx)

    calib = [e for e in events if isinstance(e, CalibrationProgress) and e.phase == "calibration"]
    assert {e.step for e in calib} == {2} and {e.attempt for e in calib} == {1}
    assert [e.done for e in calib] == [0, 8, 13] and {e.total for e in calib} == {13}
    assert calib[-1].done == result.summary["calibration"]["samples_fed"] == 13
    assert ("calibrating 13/13 samples" in [m for _, m in progress])
    fractions = [f for f, m in progress if m.startswith("calibrating")]
    assert fractions == sorted(fractions) and 0.3 <= fractions[0] < fractions[-1] <= 0.6

    # the per-node error pass: its samples, then the rows the card gets, in that order
    measured = [e for e in events if isinstance(e, CalibrationProgress) and e.phase == "node-error"]
    assert measured[0].done == 0 and measured[-1].done == measured[-1].total > 0
    (rows,) = [e for e in events if isinstance(e, NodeErrors)]
    assert rows.step == 2 and rows.errors == result.summary["node_errors"] and rows.errors
    assert events.index(measured[-1]) < events.index(rows)
    assert events.index(calib[-1]) < events.index(measured[0])


def test_exclusion_search_rounds_are_emitted_as_the_card_records_them(textnet, tmp_path):
    """The constructed metric of test_int8_config: accuracy 1 only while /body.1/MatMul is float."""

    def evaluate(path):
        names = {n.name: n.op_type for n in onnx.load(str(path)).graph.node}
        return {"accuracy": 1.0 if names.get("/body.1/MatMul") == "MatMul" else 0.0}

    events = []
    actx = context(textnet, tmp_path, bundle(), evaluate=evaluate, emit=events.append)
    result = quantize_int8_dynamic(DynamicInt8Config(max_drop=0.01), actx)
    steps = result.summary["exclusion"]["steps"]
    rounds = [e for e in events if isinstance(e, ExclusionStep)]
    assert len(rounds) == len(steps) >= 2 and [e.round for e in rounds] == list(range(1, len(steps) + 1))
    for ev, step in zip(rounds, steps, strict=True):
        assert (ev.excluded, ev.metrics, ev.size_bytes, ev.met) == (
            step["excluded"], step["metrics"], step["size_bytes"], step["met"])  # fmt: skip
        assert ev.goal == "accuracy ≥ 0.99"
    assert rounds[-1].met and not rounds[0].met
    # a dynamic step has no calibration; its per-node error pass still reports
    assert not [e for e in events if isinstance(e, CalibrationProgress) and e.phase == "calibration"]
    assert [e for e in events if isinstance(e, NodeErrors)]


def test_events_json_lines_survive_the_quantizers_quiet_mode(capsys):
    """quiet_quantizer redirects sys.stdout around onnxruntime's quantizer; the events the
    step emits meanwhile (calibration, node errors) are still printed for the GUI."""
    import argparse

    from engine.cli.commands import _listeners
    from engine.methods.quantize.artifact_files import quiet_quantizer

    (listen,) = _listeners(argparse.Namespace(events_json=True, quiet=False))
    with quiet_quantizer(lambda message: None, "int8-static: "):
        print("onnxruntime's own chatter")
        listen(CalibrationProgress(step=1, done=8, total=64))
    lines = capsys.readouterr().out.splitlines()
    assert [event_from_json(x) for x in lines] == [CalibrationProgress(step=1, done=8, total=64)]
