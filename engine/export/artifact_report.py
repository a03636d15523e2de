"""measure_artifacts: every deployable file through the same checker / metric / agreement / latency path.

The deploy stage calls this once with the variant's fp32 file and the files its artifact
methods wrote. Each file gets one onnxruntime session, reused for its metric, its output
agreement with the fp32 file (both from one pass over the validation batches) and its
latency; all latencies, the parent's fp32 file included, are timed side by side in one
call so every speed ratio on the card compares runs taken under the same load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.export.artifact_pass import MeasuredFile as _File
from engine.export.artifact_pass import one_pass
from engine.export.runtime import check_model, describe_ort_error, onnx_size_bytes, onnx_zip_bytes
from engine.export.side_by_side import (
    paired_speedup,
    percentiles,
    resolve_threads,
    time_rounds,
    timing_session,
)
from engine.export.speed_reasons import fp16_speed_note, int4_speed_note, int8_speed_reasons
from engine.recipe import ExportConfig

FP32_KIND = "onnx-fp32"
PARENT = "parent"


def _no_log(message: str) -> None:
    pass


def _no_progress(fraction: float, message: str) -> None:
    pass


def _file(item: Sequence[Any]) -> _File:
    """(kind, path) or (kind, path, summary) -> a _File; the summary may carry fused_counts."""
    kind, path, *rest = item
    return _File(str(kind), Path(path), dict(rest[0] or {}) if rest else {})


def _time(files: list[_File], parent: Path | None, feeds: Mapping[str, np.ndarray],
          cfg: ExportConfig, threads: int, log: Callable[[str], None]) -> list[float] | None:
    """Side-by-side latency of every live file (and the parent's fp32); the parent's round times."""
    live = {f"{i}": f for i, f in enumerate(files) if f.session is not None}
    sessions = {k: f.session for k, f in live.items()}
    paths: dict[str, Path] = {k: f.path for k, f in live.items()}
    if parent is not None:
        try:
            sessions[PARENT] = timing_session(parent, threads=threads)
            paths[PARENT] = parent
        except Exception as exc:  # the parent's file is only a reference: time the rest
            log(f"parent's ONNX file not timed: {describe_ort_error(exc)}")
    rounds = time_rounds(paths, feeds, runs=cfg.latency_runs, threads=threads, sessions=sessions)
    for k, f in live.items():
        f.rounds = rounds[k]
        f.latency = percentiles(rounds[k])
    return rounds.get(PARENT)


def fused_counts_from(summary: Mapping[str, Any]) -> Mapping[str, int] | None:
    """The transformer optimizer's fused op counts from a method's summary; None if it did not run.

    int8 methods record {"fusions_tried": bool, "fused": {op: count}} (nonzero counts only).
    """
    if "fused_counts" in summary:
        return summary["fused_counts"]
    if summary.get("fusions_tried"):
        return summary.get("fused") or {}
    return None


def _reasons(f: _File, fp32: _File, provider: str, shape: list[int] | None) -> list[str]:
    """Plain-words speed truth for a quantized or fp16 file that is not faster."""
    if f.error:
        return [f.error]
    if f.latency is None or fp32.latency is None or f is fp32:
        return []
    ms, ref_ms = f.latency[0], fp32.latency[0]
    common = {"provider": provider, "speedup": _speedup(fp32.rounds, f)}
    if "int8" in f.kind:
        return int8_speed_reasons(fp32.path, f.path, ref_ms, ms, fused_counts_from(f.summary),
                                  settings=f.summary.get("settings") or f.summary, **common)
    if "fp16" in f.kind:
        return fp16_speed_note(fp32.path, f.path, ref_ms, ms, **common)
    if "int4" in f.kind:
        return int4_speed_note(fp32.path, f.path, ref_ms, ms, shape=shape, **common)
    return []


def _sizes(path: Path) -> tuple[int | None, int | None]:
    """(bytes on disk, deflated bytes); a file onnx cannot parse still has its plain size."""
    try:
        return onnx_size_bytes(path), onnx_zip_bytes(path)
    except Exception:  # DecodeError, a missing external-data file...: the entry says why
        return (path.stat().st_size if path.is_file() else None), None


def _safe_reasons(f: _File, fp32: _File, provider: str, shape: list[int] | None) -> list[str]:
    try:
        return _reasons(f, fp32, provider, shape)
    except Exception as exc:  # a reason is commentary: it must not lose the measurements
        return [f"could not work out why ({type(exc).__name__}: {exc})"]


def _speedup(ref_rounds: list[float] | None, f: _File) -> float | None:
    return paired_speedup(ref_rounds, f.rounds) if ref_rounds and f.rounds else None


def _entry(f: _File, fp32: _File, parent_rounds: list[float] | None, shape: list[int] | None,
           threads: int, provider: str, fp32_report: Mapping[str, Any] | None) -> dict[str, Any]:
    """The card's record of one file."""
    agree: dict[str, Any] = {"max_abs_diff": None, "top1_agreement": None, "cosine": None}
    if f is fp32 and fp32_report:  # the fp32 file's parity is against PyTorch (export report)
        agree.update({k: fp32_report.get(k) for k in ("max_abs_diff", "top1_agreement")})
    elif f is not fp32 and not f.error and f.agree.rows:
        agree = f.agree.result()
    p50, p95 = f.latency if f.latency else (None, None)
    size, zipped = _sizes(f.path)
    return {
        "kind": f.kind, "path": str(f.path), "size_bytes": size, "zip_bytes": zipped,
        "checker_ok": f.checker[0], "checker_message": f.checker[1],
        **agree, "agreement_against": "pytorch" if f is fp32 else FP32_KIND,
        "latency_ms_p50": p50, "latency_ms_p95": p95, "latency_shape": shape,
        "threads": threads, "provider": provider,
        "metrics": f.metric.result() if f.metric is not None and not f.error else {},
        "speedup_vs_fp32": _speedup(fp32.rounds, f), "speedup_vs_parent": _speedup(parent_rounds, f),
        "parent_latency_ms_p50": percentiles(parent_rounds)[0] if parent_rounds else None,
        "reasons": _safe_reasons(f, fp32, provider, shape), "error": f.error or None,
    }  # fmt: skip


def _open(f: _File, threads: int, check: bool) -> None:
    if check:
        f.checker = check_model(f.path)
    try:
        # one session per file serves metric, agreement and the side-by-side timing
        f.session = timing_session(f.path, threads=threads)
    except Exception as exc:  # onnxruntime raises plain Exceptions
        f.error = f"onnxruntime cannot load it: {describe_ort_error(exc)}"


def _log_entry(e: dict[str, Any], log: Callable[[str], None]) -> None:
    parts = [f"{e['kind']}: " + (f"{e['size_bytes'] / 1e6:.2f} MB" if e["size_bytes"] else "no file")]
    parts += [f"{k} {v:.4g}" for k, v in e["metrics"].items()]
    if e["cosine"] is not None:
        parts.append(f"cosine {e['cosine']:.4f}, top-1 {e['top1_agreement']:.4f}, "
                     f"max|diff| {e['max_abs_diff']:.2e}")
    if e["latency_ms_p50"] is not None:
        parts.append(f"p50 {e['latency_ms_p50']:.2f} ms ({e['speedup_vs_fp32']:.2f}x fp32"
                     + (f", {e['speedup_vs_parent']:.2f}x parent)" if e["speedup_vs_parent"] else ")"))
    log(", ".join(parts) + (f" - {e['error']}" if e["error"] else ""))


def _open_all(files: list[_File], threads: int, check: bool,
              fp32_report: Mapping[str, Any] | None) -> str:
    """Check and open every file (the fp32 one must load); the provider they run on."""
    fp32 = files[0]
    for f in files:
        _open(f, threads, check and not (f is fp32 and fp32_report))
    if fp32_report:  # the export already checked it
        fp32.checker = (bool(fp32_report.get("checker_ok")), str(fp32_report.get("checker_message", "")))
    if fp32.session is None:
        raise ValueError(f"the fp32 file {fp32.path.name}: {fp32.error}")
    return fp32.session.get_providers()[0]


def measure_artifacts(
    fp32_path: str | Path,
    artifacts: Sequence[Sequence[Any]],
    task: str,
    data: Any,
    input_names: Sequence[str],
    latency_feeds: Mapping[str, np.ndarray],
    *,
    cfg: ExportConfig,
    parent_fp32_path: str | Path | None = None,
    log: Callable[[str], None] = _no_log,
    batch_size: int = 16,
    max_eval_batches: int | None = None,
    threads: int | None = None,
    example_feeds: Sequence[Mapping[str, np.ndarray]] = (),
    fp32_report: Mapping[str, Any] | None = None,
    progress: Callable[[float, str], None] = _no_progress,
    checkpoint: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """One card record per file: the fp32 file ("onnx-fp32") first, then each artifact.

    `artifacts`: (kind, path) or (kind, path, summary) - a summary's "fused_counts" and
    "settings" feed the speed reasons. With `data` (classification / causal LM) each file's
    metric comes from the validation split run in onnxruntime and agreement is measured on
    those batches; without, agreement uses `latency_feeds` and `example_feeds` and metrics is
    {}. `fp32_report` (the export's ExportReport.to_dict()) supplies the fp32 file's checker
    result and its parity against PyTorch instead of re-checking it. `threads`: the
    intra-op count for every session (default cfg.latency_threads if the config has one,
    else resolve_threads()). `checkpoint` is polled between batches (it raises on cancel).
    """
    count = resolve_threads(threads if threads is not None else getattr(cfg, "latency_threads", None))
    files = [_File(FP32_KIND, Path(fp32_path)), *(_file(a) for a in artifacts)]
    parent = Path(parent_fp32_path) if parent_fp32_path else None
    parent = parent if parent is not None and parent.is_file() else None
    try:
        provider = _open_all(files, count, cfg.check, fp32_report)
        batches = [dict(latency_feeds), *(dict(b) for b in example_feeds)]
        seen = one_pass(files, task, data, input_names, batches, batch_size, max_eval_batches,
                        lambda x, m: progress(0.8 * x, m), checkpoint)
        log(f"artifacts: metric and agreement over {seen} batches, {len(files) - 1} artifact(s)")
        checkpoint()
        progress(0.8, f"timing {len(files) + (parent is not None)} files side by side ({count} threads)")
        parent_rounds = _time(files, parent, latency_feeds, cfg, count, log)
    finally:
        for f in files:
            f.session = None  # free every file's weights before the sizes are read
    shape = [int(s) for s in next(iter(latency_feeds.values())).shape] if latency_feeds else None
    entries = [_entry(f, files[0], parent_rounds, shape, count, provider, fp32_report) for f in files]
    for e in entries:
        _log_entry(e, log)
    progress(1.0, "artifacts measured")
    return entries
