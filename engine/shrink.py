"""Did it really shrink and speed up? A pruned variant's card next to its parent's.

Pruning can mean three different things on disk: structured pruning removes rows and
channels (smaller tensors, less work), N:M and unstructured pruning only write zeros
into tensors that stay dense. Zeros compress, so the zip shrinks, but the ONNX file
keeps its size and onnxruntime's dense kernels do the same work. `shrink_report` puts
the numbers side by side and says in plain words which of these happened and why.
"""

from __future__ import annotations

import re
from typing import Any

from engine.collapse import collapse_check, collapse_lines, collapse_sentence
from engine.fair_parent import parent_note
from engine.metric_text import compare_metric, fmt_metric, loss_sentence, tolerance_text
from engine.registry import MethodEntry, entry_for_type
from engine.shrink_artifacts import artifact_reports, side_by_side_latency
from engine.shrink_verdict import (
    NOISE,
    SMALLER,
    measured,
    size_direction,
    size_phrase,
    speed_phrase,
    verdict,
)
from engine.step_notes import step_notes

__all__ = ["NOISE", "SMALLER", "pruning_kinds", "shrink_report", "shrink_text"]

_METHOD = re.compile(r"(?:^|\+\s*)(\w+)\(")


def method_steps(method: str) -> list[MethodEntry]:
    """The registered methods named in a card's `method` text, in order (unknown names skipped)."""
    found = (entry_for_type(t) for t in _METHOD.findall(method or ""))
    return [e for e in found if e is not None]


def pruning_kinds(method: str) -> list[str]:
    """What the steps named in a card's `method` text leave behind (their registry effects:
    masks, smaller, quantized), in order, without repeats."""
    return list(dict.fromkeys(e.effect for e in method_steps(method) if e.effect != "none"))


def _num(section: dict[str, Any] | None, key: str) -> float | None:
    value = (section or {}).get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def shrink_report(
    card: dict[str, Any], parent_card: dict[str, Any] | None, against: str = "parent",
    checks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parameters (dense / present / non-zero), ONNX and zip size, latency vs the parent, and why.

    `against` names what parent_card is in the sentences ("control" for the dense control).
    `checks`: the collapse thresholds (engine.collapse; default: the card's own, else the
    recipe defaults). A collapsed variant's verdict is the collapse, metric first; the size
    and speed verdict is kept as `size_verdict`.
    """
    onnx = card.get("onnx") or {}
    method = str(card.get("method") or "")
    kinds = pruning_kinds(method)
    n = _measured_numbers(card, parent_card)
    # Physically smaller tensors are the one thing that can make a dense runtime faster.
    shrunk = _below(n["params_present"], n["params_dense"], 1.0)
    zeros = _below(n["params_nonzero"], n["params_present"], 0.95)
    dense_zeros = not shrunk and ("masks" in kinds or (zeros and not kinds))

    reasons = _tensor_reasons(n, kinds, method, str(onnx.get("provider") or ""), shrunk, zeros)
    lines = measured(n["onnx_bytes"], n["parent_onnx_bytes"], n["zip_bytes"],
                     n["parent_zip_bytes"], n["latency_ms_p50"], n["parent_latency_ms_p50"],
                     n["speedup"])  # fmt: skip
    outcome, size_verdict = _outcome(card, parent_card, n, dense_zeros)
    files = artifact_reports(card, parent_card)
    if kinds == ["quantized"] and files:  # the model is as it was: what ships are the files
        outcome = "files"
        size_verdict = ("The model's fp32 file is the parent's (quantization works on the "
                        "exported file); the deployable files are judged one by one below.")
    reasons += _latency_reasons(n, dense_zeros, bool(onnx))
    metric = compare_metric(card, parent_card)
    if metric is not None:
        lines.append(_metric_line(metric))
        size_verdict = _with_metric(outcome, size_verdict, metric)
    collapse = collapse_check(card, parent_card, checks)
    collapsed = bool(collapse and collapse["collapsed"])
    reasons += step_notes(card)  # e.g. grouped-query rounding: done differs from asked
    note = parent_note(card, parent_card)
    if note:  # first: it changes how every other number should be read
        reasons.insert(0, f"{note}; run the dense fine-tuned control (same model, data and "
                          "training, no methods) to compare fairly")

    # metric first: a model that no longer works is no success at any size or speed
    said = collapse_sentence(collapse) if collapsed else size_verdict
    if against != "parent":  # every sentence above says "the parent's"
        said, size_verdict, reasons, lines = (
            _say_against(x, against) for x in (said, size_verdict, reasons, lines))
    return {
        "kinds": kinds,
        **n,
        "outcome": outcome,
        "verdict": said,
        "size_verdict": size_verdict,
        "collapsed": collapsed,
        "collapse": _say_against(collapse, against) if against != "parent" else collapse,
        "reasons": reasons,
        "measured": lines,
        "metric": metric,
        "parent_note": note,
        "parent_name": (parent_card or {}).get("name"),
        "artifacts": files,
    }


def _below(a: float | None, b: float | None, share: float) -> bool:
    """a < share * b, when both are known."""
    return a is not None and b is not None and a < share * b


def _say_against(text: Any, against: str) -> Any:
    """Sentences (a str, or lists / dicts of them) reworded for what the numbers are compared with."""
    if isinstance(text, list):
        return [_say_against(t, against) for t in text]
    if isinstance(text, dict):
        return {k: _say_against(v, against) for k, v in text.items()}
    return text.replace("the parent's", f"the {against}'s") if isinstance(text, str) else text


def _measured_numbers(card: dict[str, Any], parent_card: dict[str, Any] | None) -> dict[str, Any]:
    """Parameter counts, sizes, latencies and their ratios, keyed as in shrink_report's result."""
    model, onnx = card.get("model") or {}, card.get("onnx") or {}
    p_model = (parent_card or {}).get("model") or {}
    p_onnx = (parent_card or {}).get("onnx") or {}
    present = _num(model, "params")
    # params_before is this run's model before its methods ran; older cards may lack it
    dense = _num(model, "params_before") or _num(p_model, "params") or present
    size, p_size = _num(onnx, "size_bytes"), _num(p_onnx, "size_bytes")
    zipped, p_zipped = _num(onnx, "zip_bytes"), _num(p_onnx, "zip_bytes")
    lat, p_lat = _num(onnx, "latency_ms_p50"), _num(p_onnx, "latency_ms_p50")
    # timed beside the card's own parent only: a control compared later was not in the room
    same = parent_card is not None and parent_card.get("id") == card.get("parent")
    paired = side_by_side_latency(card) if same else None
    speedup = _ratio(p_lat, lat)
    if paired is not None:  # timed together in one process: no drift between two sessions
        lat, p_lat, speedup = paired
    return {
        "params_dense": dense,
        "params_present": present,
        "params_nonzero": _num(model, "nonzero_params"),
        "onnx_bytes": size,
        "parent_onnx_bytes": p_size,
        "zip_bytes": zipped,
        "parent_zip_bytes": p_zipped,
        "latency_ms_p50": lat,
        "parent_latency_ms_p50": p_lat,
        "size_ratio": _ratio(size, p_size),
        "zip_ratio": _ratio(zipped, p_zipped),
        "speedup": speedup,
        "latency_noise": abs(speedup - 1.0) < NOISE if speedup is not None else None,
        "latency_side_by_side": paired is not None,
    }


def _tensor_reasons(
    n: dict[str, Any], kinds: list[str], method: str, provider: str, shrunk: bool, zeros: bool
) -> list[str]:
    """Why the tensors did or did not get smaller: removed parameters, zeros, sparsity kinds."""
    present, dense, nonzero = n["params_present"], n["params_dense"], n["params_nonzero"]
    reasons: list[str] = []
    if shrunk:
        reasons.append(
            f"{1 - present / dense:.0%} of the parameters were removed physically "
            f"({present:,.0f} of {dense:,.0f} remain): the tensors themselves are smaller"
        )
    if zeros:
        reasons.append(
            f"{1 - nonzero / present:.0%} of the stored parameters are zeros "
            f"({nonzero:,.0f} non-zero of {present:,.0f})"
        )
    notes = [e.runtime_note(method, provider) for e in method_steps(method)
             if e.effect == "masks" and e.runtime_note is not None]  # fmt: skip
    plain_masks = any(e.effect == "masks" and e.runtime_note is None for e in method_steps(method))
    if plain_masks and not shrunk:
        reasons.append(
            "unstructured sparsity keeps dense tensors: ONNX size and dense-kernel latency are "
            f"unchanged; {_zip_words(n['zip_ratio'])}. Use structured pruning or N:M for speed."
        )
    reasons += list(dict.fromkeys(notes))  # e.g. N:M: which runtime runs it sparse
    return reasons


def _outcome(
    card: dict[str, Any], parent_card: dict[str, Any] | None, n: dict[str, Any], dense_zeros: bool
) -> tuple[str, str]:
    """(outcome, verdict line), or 'missing' with what to export when a side has no numbers."""
    if not card.get("onnx"):
        return "missing", "Not exported to ONNX yet: export it to measure file size, zip size and latency."
    if parent_card is None:
        return "missing", "No parent variant to compare with: sizes and latency are shown without ratios."
    if not parent_card.get("onnx"):
        return "missing", "The parent has no ONNX export: export it to compare size and latency."
    return verdict(n["size_ratio"], n["zip_ratio"], n["speedup"], n["latency_noise"], dense_zeros)


def _zip_words(zip_ratio: float | None) -> str:
    """What the zeros did to the zip, in the direction it went."""
    if zip_ratio is None:
        return "only the zip size can shrink (zeros compress)"
    if size_direction(zip_ratio) == "smaller":
        return f"only the zip size shrinks ({zip_ratio:.2f}× the parent's)"
    # zeros compress, so a larger zip means the parent's weights compress better (e.g. fp16)
    return f"even the zip {size_phrase(zip_ratio)}"


def _latency_reasons(n: dict[str, Any], dense_zeros: bool, exported: bool) -> list[str]:
    """Why a latency difference should not be trusted, and a missing zip size."""
    speedup = n["speedup"]
    reasons: list[str] = []
    if speedup is not None and n["latency_noise"]:
        reasons.append(f"latency {speedup:.2f}× the parent's speed is within measurement noise (±{NOISE:.0%})")
    elif speedup is not None and dense_zeros:
        # zeros in a dense tensor cost a dense kernel exactly as much as any other value
        reasons.append(
            f"the measured latency difference ({speed_phrase(speedup)}) cannot come from the zeros (the same "
            "dense kernels run): it is "
            + ("jitter of this machine, even timed side by side" if n["latency_side_by_side"]
               else "most likely noise between two separate measurements")
        )
    if exported and n["zip_bytes"] is None:
        reasons.append("zip size not recorded (exported before it was measured): re-export to get it")
    return reasons


def _metric_line(m: dict[str, Any]) -> str:
    name = m["name"]
    return (f"{name} {fmt_metric(name, m['value'])} vs the parent's "
            f"{fmt_metric(name, m['parent_value'])} ({m['text'].split('(', 1)[1]}")


def _with_metric(outcome: str, verdict: str, m: dict[str, Any]) -> str:
    """The size/speed verdict, told honestly when the metric got worse beyond its tolerance."""
    if m["change"] != "lost":
        return verdict
    loss = loss_sentence(m)
    if outcome == "smaller_faster":  # never a bare "Yes" next to a lost metric
        return f"Smaller and faster, but {loss}: " + verdict.removeprefix("Yes: ")
    return f"{verdict} And {loss} (beyond the {tolerance_text(m['name'])} tolerance)."


def shrink_text(report: dict[str, Any]) -> str:
    """The report as plain-text lines for a terminal (verdict, numbers, reasons)."""
    counts = [
        f"{label} {report[key]:,.0f}"
        for key, label in (("params_dense", "dense"), ("params_present", "present"),
                           ("params_nonzero", "non-zero"))
        if report.get(key) is not None
    ]  # fmt: skip
    flag = collapse_lines(report.get("collapse"))
    lines = [f"✘ {flag[0]}", *(f"  {line}" for line in flag[1:])] if flag else []
    lines.append(f"did it shrink? {report.get('size_verdict') or report['verdict']}")
    if counts:
        lines.append("  parameters: " + " · ".join(counts))
    lines += [f"  {line}" for line in report.get("measured", [])]
    lines += [f"  - {line}" for line in report.get("reasons", [])]
    for a in report.get("artifacts") or []:  # each quantized / fp16 file
        lines.append(f"  {a['verdict']}")
        if a.get("measured"):
            lines.append(f"    {a['measured']}")
        lines += [f"    - {line}" for line in a.get("reasons", [])]
    return "\n".join(lines)
