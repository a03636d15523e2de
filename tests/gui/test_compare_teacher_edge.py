"""Compare scatter: a student whose teacher is another variant (not its parent) gets a dotted
teacher → student line; a student distilled from its parent keeps only the parent arrow."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from engine.store import Variant  # noqa: E402
from gui.widgets.compare_scatter import CompareScatter  # noqa: E402
from gui.widgets.compare_teacher_edges import TEACHER_EDGE, teacher_pairs  # noqa: E402


def _variant(run_id, parent, p50, acc, teacher_run=None):
    steps = [{"type": "distill", "teacher": "a model", "teacher_run": teacher_run}] if teacher_run else []
    card = {"model": {"description": "tiny-bert: BERT-style classifier", "params": 1e6},
            "onnx": {"latency_ms_p50": p50, "latency_ms_p95": p50, "size_bytes": 1e6},
            "metrics": {"accuracy": acc}, "steps": steps}
    return Variant(run_id, parent, run_id, "finished", "methods: []\n", card)


def _dotted_lines(scatter):
    return [i for i in scatter._extra if hasattr(i, "opts") and isinstance(i.opts, dict)
            and i.opts.get("pen") is not None and i.opts["pen"].style() == Qt.PenStyle.DotLine
            and i.opts["pen"].color().getRgb() == TEACHER_EDGE]


def test_teacher_that_is_not_the_parent_gets_a_dotted_line(qtbot):
    base = _variant("base", None, 10.0, 0.9)
    big = _variant("big", "base", 12.0, 0.95)  # fine-tuned teacher, a sibling branch
    pruned = _variant("pruned", "base", 6.0, 0.85)
    student = _variant("student", "pruned", 5.0, 0.92, teacher_run="big")  # prune, then distill from big
    own = _variant("own", "base", 4.0, 0.88, teacher_run="base")  # distilled from its own parent
    points = [(v, v.card["onnx"]["latency_ms_p50"], v.card["metrics"]["accuracy"])
              for v in (base, big, pruned, student, own)]
    assert teacher_pairs(points) == [("big", "student")]

    w = CompareScatter()
    qtbot.addWidget(w)
    w.resize(700, 400)
    w.show()
    w.set_variants([base, big, pruned, student, own], "accuracy", "latency")
    lines = _dotted_lines(w)
    assert len(lines) == 1
    xs, ys = lines[0].getData()
    assert list(xs) == [12.0, 5.0] and list(ys) == [0.95, 0.92]
    # the teacher filtered out of the plot: no line to nowhere
    assert teacher_pairs(points[2:]) == []
