"""A distilled student next to its teacher: the teacher side's numbers and the ratios between them.

The distill step records on the card which workspace run the teacher is (`teacher_run`: the
run's baseline for `teacher: parent`, the named variant for `source: variant`). The teacher's
parameters, ONNX file size, ORT latency and metric are then that run's own card numbers, read as
the Compare table reads any variant; its metric is the one the step measured on the student's own
validation split, so both metrics are on the same data. A teacher from outside the workspace (a
Hugging Face folder, a checkpoint) has no card: the step's own record stands in (parameter count,
bytes in memory) and its latency was never measured.

Pure functions over cards (no torch): the Compare page, the Export page and the CLI share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.metric_text import LOWER_IS_BETTER, compare_metric, fmt_metric, headline_metric
from engine.shrink_artifacts import side_by_side_latency


@dataclass(frozen=True)
class Side:
    """One model's numbers (None: not known); size is the ONNX file, or bytes in memory."""

    name: str
    run_id: str | None
    params: float | None
    size_bytes: float | None
    latency_ms: float | None
    metric: tuple[str, float] | None


@dataclass(frozen=True)
class RatioRow:
    """One line of the comparison: label, the two values as text, the ratio and its tone."""

    label: str
    teacher: str
    student: str
    ratio: str
    tone: str = ""  # good | bad | "" (neither, or unknown)


@dataclass(frozen=True)
class TeacherComparison:
    teacher: Side
    student: Side
    description: str  # the step's words for the teacher (its loader's description)
    size_label: str  # "ONNX file", or "Size in memory" when the teacher has no ONNX file
    latency_note: str  # how the latencies were measured, or why the teacher's was not
    # timed side by side: the median of each round's ratio, as the Export page's speed tile
    speedup: float | None = None

    @property
    def in_workspace(self) -> bool:
        return self.teacher.run_id is not None

    def rows(self) -> list[RatioRow]:
        """Parameters, size, latency and metric: teacher, student, student vs teacher."""
        t, s = self.teacher, self.student
        return [
            RatioRow("Parameters", _count(t.params), _count(s.params), *_times(s.params, t.params, "params")),
            RatioRow(self.size_label, _mb(t.size_bytes), _mb(s.size_bytes),
                     *_times(s.size_bytes, t.size_bytes, "size")),
            RatioRow("Latency p50", _ms(t.latency_ms), _ms(s.latency_ms),
                     *_speed(t.latency_ms, s.latency_ms, self.speedup)),
            _metric_row(t.metric, s.metric),
        ]  # fmt: skip


def distill_step(card: dict[str, Any]) -> dict[str, Any] | None:
    """The distill step's record among the card's steps (the last one, if several), or None."""
    steps = [s for s in card.get("steps") or [] if isinstance(s, dict) and s.get("teacher")]
    return steps[-1] if steps else None


def teacher_metric(step: dict[str, Any], teacher_card: dict[str, Any] | None) -> tuple[str, float] | None:
    """The teacher's headline metric as the step measured it on the student's validation split
    (a variant teacher's own card may hold it on other data), else its run's card."""
    measured = headline_metric({"metrics": step.get("teacher_metrics") or {}})
    return measured or (headline_metric(teacher_card) if teacher_card is not None else None)


def teacher_line(card: dict[str, Any], teacher: Any | None = None) -> str | None:
    """'Teacher: <description> (perplexity 5.861)' for a distilled variant's card, else None;
    with the teacher's Variant, its name and metric come first: 'Teacher: base (…) — <description>'."""
    step = distill_step(card)
    if step is None:
        return None
    metric = teacher_metric(step, teacher.card if teacher is not None else None)
    shown = f" ({metric[0]} {fmt_metric(*metric)})" if metric else ""
    if teacher is not None:
        return f"Teacher: {teacher.name}{shown} — {step['teacher']}"
    return f"Teacher: {step['teacher']}{shown}"


def find_teacher(card: dict[str, Any], variants: Iterable[Any]) -> Any | None:
    """The teacher's Variant when it is a finished run of this workspace, else None."""
    step = distill_step(card)
    run = (step or {}).get("teacher_run")
    if not run:
        return None
    return next((v for v in variants if v.id == run and v.status == "finished"), None)


def student_vs_teacher(student: Any, variants: Iterable[Any]) -> TeacherComparison | None:
    """The student (a Variant) next to its teacher, or None when it was not distilled."""
    card = student.card or {}
    step = distill_step(card)
    if step is None:
        return None
    teacher = find_teacher(card, variants)
    tcard = teacher.card if teacher is not None else None
    t_onnx = _num((tcard or {}).get("onnx"), "size_bytes")
    s_onnx = _num(card.get("onnx"), "size_bytes")
    onnx = t_onnx is not None and s_onnx is not None
    s_lat, t_lat, note, speedup = _latencies(card, teacher)
    t_side = Side(
        name=teacher.name if teacher is not None else "teacher", run_id=teacher.id if teacher else None,
        params=_num((tcard or {}).get("model"), "params") or _num(step, "teacher_params"),
        size_bytes=t_onnx if onnx else _num((tcard or {}).get("model"), "size_bytes") or _num(step, "teacher_bytes"),
        latency_ms=t_lat, metric=teacher_metric(step, tcard),
    )  # fmt: skip
    s_side = Side(
        name=student.name, run_id=student.id, params=_num(card.get("model"), "params"),
        size_bytes=s_onnx if onnx else _num(card.get("model"), "size_bytes"),
        latency_ms=s_lat, metric=headline_metric(card),
    )  # fmt: skip
    return TeacherComparison(t_side, s_side, str(step["teacher"]),
                             "ONNX file" if onnx else "Size in memory", note, speedup)  # fmt: skip


def compare_with_teacher(workspace: Any, run_id: str) -> TeacherComparison | None:
    """student_vs_teacher for a run of a workspace (engine.store.Workspace), by id or name."""
    return student_vs_teacher(workspace.resolve(run_id, any_status=True), workspace.variants())


def _latencies(card: dict[str, Any], teacher: Any) -> tuple[float | None, float | None, str, float | None]:
    """(student p50, teacher p50 in ms, how they were measured, side-by-side speed-up)."""
    s_lat = _num(card.get("onnx"), "latency_ms_p50")
    if teacher is None:
        return s_lat, None, ("teacher latency not measured: the teacher is not a run of this "
                             "workspace (loaded from outside it), so it has no ONNX file"), None
    paired = side_by_side_latency(card) if teacher.id == card.get("parent") else None
    if paired is not None:  # timed in one process with the parent: no drift between sessions
        return paired[0], paired[1], ("latency: ONNX p50 timed side by side in the student's run "
                                      "(the table's p50 is each run's own timing)"), paired[2]
    t_lat = _num((teacher.card or {}).get("onnx"), "latency_ms_p50")
    if t_lat is None:
        return s_lat, None, "teacher latency not measured: its run has no ONNX export", None
    return s_lat, t_lat, "latency: ONNX p50, each as measured in its own run", None


def _num(section: Any, key: str) -> float | None:
    value = section.get(key) if isinstance(section, dict) else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None


def _count(n: float | None) -> str:
    if n is None:
        return "–"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def _mb(n: float | None) -> str:
    return "–" if n is None else f"{n / 1e6:.2f} MB"


def _ms(n: float | None) -> str:
    return "not measured" if n is None else f"{n:.2f} ms"


def _times(student: float | None, teacher: float | None, what: str) -> tuple[str, str]:
    """'0.55× params' (student / teacher), good below 1."""
    if student is None or teacher is None:
        return "–", ""
    r = student / teacher
    return f"{r:.2f}× {what}", "good" if r < 1 else "bad" if r > 1 else ""


def _speed(teacher_ms: float | None, student_ms: float | None, paired: float | None) -> tuple[str, str]:
    """'1.71× faster' or '1.20× slower' (the teacher's latency over the student's)."""
    if teacher_ms is None or student_ms is None:
        return "–", ""
    r = paired or teacher_ms / student_ms
    return (f"{r:.2f}× faster", "good") if r >= 1 else (f"{1 / r:.2f}× slower", "bad")


def _metric_row(teacher: tuple[str, float] | None, student: tuple[str, float] | None) -> RatioRow:
    """Accuracy as '99.4% of teacher'; a lower-is-better metric as '1.38× teacher's'."""
    name = (student or teacher or ("Metric", 0.0))[0]
    label = name.capitalize()
    t_text = fmt_metric(*teacher) if teacher else "–"
    s_text = fmt_metric(*student) if student else "–"
    if teacher is None or student is None or teacher[0] != student[0] or teacher[1] == 0:
        return RatioRow(label, t_text, s_text, "–")
    r = student[1] / teacher[1]
    ratio = f"{r:.2f}× teacher's" if name in LOWER_IS_BETTER else f"{r:.1%} of teacher"
    # within the tolerance every page uses (1 point of accuracy, 2% of perplexity): kept
    change = (compare_metric({"metrics": {name: student[1]}}, {"metrics": {name: teacher[1]}}) or {})
    tone = {"lost": "bad", "gained": "good", "kept": "good"}.get(change.get("change", ""), "")
    return RatioRow(label, t_text, s_text, ratio, tone)


def teacher_lines(student: Any, variants: Iterable[Any]) -> list[str]:
    """`workbench-cli show`'s lines for a distilled variant: the teacher, then teacher | student |
    ratio per measure and how the latencies were timed; [] for a variant that was not distilled."""
    variants = list(variants)
    comparison = student_vs_teacher(student, variants)
    if comparison is None:
        return []
    line = teacher_line(student.card or {}, find_teacher(student.card or {}, variants))
    table = [("", "teacher", "student", "student vs teacher")]
    table += [(r.label, r.teacher, r.student, r.ratio) for r in comparison.rows()]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    out = [line or ""]
    out += ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
            for row in table]  # fmt: skip
    return [*out, "  " + comparison.latency_note]
