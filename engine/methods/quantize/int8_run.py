"""What both int8 steps do around onnxruntime's quantizer: prepare the graph, resolve the
nodes kept in fp32, write the file safely, measure per-node error and run the
accuracy-aware exclusion search.

A `quantize(src, dst, excluded)` callable is all that differs between dynamic and static.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError, FieldError
from engine.methods.base import ArtifactContext
from engine.methods.quantize.graph_opt import optimize_for_quantization, wants_fusions
from engine.methods.quantize.node_patterns import (
    after_optimization,
    fused_away,
    fused_names,
    node_layers,
    quantizer_names,
    resolve_exclusions,
)


def _reason(exc: BaseException) -> str:
    # engine.export's package import loads onnx (seconds); registry discovery imports this
    from engine.export.errors import one_line_reason

    return one_line_reason(exc)


Quantize = Callable[[Path, Path, list[str]], None]
NODE_ERRORS_SHOWN = 50  # the worst nodes the card keeps (the chart needs no more)
ERROR_SAMPLES = 16  # training samples per-node error is measured on


@dataclass
class Prepared:
    """The graph handed to the quantizer and what was done to get it."""

    path: Path  # the file to quantize (optimized, or the export itself)
    fused: dict[str, int]
    excluded: list[str]  # node names of `path` kept in fp32 by exclude_nodes
    fusions_tried: bool = False  # the transformer optimizer ran (its counts may be empty)
    notes: list[str] = field(default_factory=list)


def field_error(actx: ArtifactContext, name: str, message: str) -> ConfigError:
    """One clear line naming the step's field, as recipe validation names it."""
    return ConfigError([FieldError(f"methods[{actx.step - 1}].{name}", message)])


def output_path(actx: ArtifactContext, kind: str) -> Path:
    """<out_dir>/model.<kind>.onnx; a later step or a taken name gets its own file."""
    from engine.methods.quantize.artifact_files import unique_path

    stem = f"model.{kind}" if actx.step <= 1 else f"model.{kind}.step{actx.step}"
    return unique_path(Path(actx.out_dir), stem)


def prepare(cfg: Any, actx: ArtifactContext, work: Path) -> Prepared:
    """Resolve exclude_nodes on the export (a bad pattern fails before any work), then
    optimize the graph and find the excluded nodes again in what optimization left."""
    import onnx

    src = Path(actx.onnx_path)
    graph = onnx.load(str(src), load_external_data=False).graph
    path_name = f"methods[{actx.step - 1}].exclude_nodes"
    wanted = resolve_exclusions(graph, cfg.exclude_nodes, path_name,
                                later=fused_names(cfg.exclude_nodes))  # Attention_0: after fusion
    heads = (cfg.num_heads, cfg.hidden_size)
    path, fused = optimize_for_quantization(
        src, work / "prepared.onnx", actx.task, cfg.optimize, heads, actx.log
    )
    tried = wants_fusions(graph, actx.task, cfg.optimize)
    if path == src or not cfg.exclude_nodes:
        after_optimization(graph, cfg.exclude_nodes, path_name)
        return Prepared(path, fused, wanted, tried)
    opt_graph = onnx.load(str(path), load_external_data=False).graph
    after_optimization(opt_graph, cfg.exclude_nodes, path_name)
    names = {n.name for n in opt_graph.node}
    again = {n for n in wanted if n in names}
    # layer patterns also match nodes the optimizer renamed or fused; a pattern that only
    # matched fused-away nodes matches nothing here (reported below), the others still do
    layers = node_layers(graph, opt_graph)
    again |= set(resolve_exclusions(opt_graph, cfg.exclude_nodes, path_name, layers, strict=False))
    lost = fused_away(graph, opt_graph, wanted, again)  # not inside a fused op kept in fp32
    notes = []
    if lost:
        notes.append(
            f"exclude_nodes: {len(lost)} node(s) were fused away by graph optimization "
            f"(e.g. {lost[0]}) and are quantized inside the fused op; set optimize: basic "
            f"to keep them in fp32"
        )
    return Prepared(path, fused, sorted(again), tried, notes)


def write_artifact(quantize: Quantize, src: Path, dst: Path, excluded: list[str]) -> None:
    """Quantize into a staging folder under dst's name, then move it into place, data
    first and the .onnx last, so a failure never leaves a half-written artifact."""
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        # as onnxruntime spells them (dynamic int8 checks a Gemm X under X_MatMul)
        quantize(src, staging / dst.name, quantizer_names(excluded))
        drop_shape_annotations(staging / dst.name)
        for name in sorted(p.name for p in staging.iterdir()):
            if name != dst.name:
                os.replace(staging / name, dst.parent / name)
        os.replace(staging / dst.name, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def drop_shape_annotations(path: Path) -> None:
    """Remove the intermediate shapes (graph.value_info) the quantizer copied from the
    pre-processed graph: some are stale after the rewrite (onnx.checker then rejects the file
    and onnxruntime warns while merging them), and onnxruntime infers them again anyway."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)  # external data stays where it is
    if len(model.graph.value_info):
        del model.graph.value_info[:]
        onnx.save(model, str(path))


def calibration_listener(actx: ArtifactContext) -> Callable[[int, int], None]:
    """What the calibration reader calls as onnxruntime reads it: progress, as events."""
    from engine.methods.quantize.live_events import CalibrationListener

    return CalibrationListener(actx)


def measure_node_errors(
    prepared: Path, quant: Path, feeds: list[dict[str, Any]], log: Callable[[str], None],
    source: Path | None = None, actx: ArtifactContext | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """(worst-first per-node errors, for the card and the ranking), or ([], []) with the
    reason logged: an analysis that fails must not cost the user the artifact. With `actx`,
    the samples run so far and then the errors go out as events (live_events)."""
    from engine.methods.quantize import live_events
    from engine.methods.quantize.node_error import node_errors

    if not feeds:
        log("per-node error: no data and no example inputs to measure it on; skipped")
        return [], []
    progress = live_events.node_error_progress(actx, feeds) if actx is not None else None
    try:
        errors = node_errors(prepared, quant, feeds, progress=progress, source=source)
    except Exception as exc:
        log(f"per-node error: could not be measured on this graph ({_reason(exc)})")
        return [], []
    shown = [e.to_dict() for e in errors[:NODE_ERRORS_SHOWN]]
    if actx is not None:
        live_events.node_errors_measured(actx, shown)
    return shown, [e.node for e in errors]


def exclusion_search(
    cfg: Any, actx: ArtifactContext, quantize: Quantize, prep: Prepared, ranked: list[str],
    work: Path,
) -> Any:  # fmt: skip
    """Run exclusion.search_exclusions when max_drop is set; None when it does not apply."""
    from engine.methods.quantize.exclusion import BOUNDED_TASKS, search_exclusions

    if cfg.max_drop is None:
        return None
    if actx.task not in BOUNDED_TASKS:
        raise field_error(actx, "max_drop", f"a {actx.task!r} model has no accuracy or "
                          "perplexity to bound; clear max_drop")  # fmt: skip
    if actx.evaluate is None:
        raise field_error(actx, "max_drop", "needs the recipe's validation data to measure "
                          "the artifact on; add a data section, or clear max_drop")  # fmt: skip
    counter = iter(range(1, 1_000_000))
    fp32 = dict(actx.evaluate(Path(actx.onnx_path)))
    ranked = [n for n in ranked if n not in prep.excluded]
    watch = _search_watcher(actx, fp32, cfg.max_drop, len(ranked))

    def make(excluded: list[str]) -> Path:
        actx.checkpoint()
        watch.made(excluded)
        path = work / f"candidate{next(counter)}.onnx"
        write_artifact(quantize, prep.path, path, sorted(set(prep.excluded) | set(excluded)))
        return path

    def evaluate(path: Path) -> dict[str, float]:
        metrics = dict(actx.evaluate(path))
        watch.measured(path, metrics)  # each round on the Run page as soon as it is measured
        return metrics

    return search_exclusions(make, evaluate, ranked, fp32, actx.task, cfg.max_drop, actx.log)


def _search_watcher(actx: ArtifactContext, fp32: dict[str, float], max_drop: float, n: int) -> Any:
    """The search's rounds as events, judged against the bound the search itself uses."""
    from engine.methods.quantize.exclusion import limit, metric_key, sizes, within
    from engine.methods.quantize.live_events import SearchWatcher

    try:
        bound, key = limit(actx.task, fp32, max_drop), metric_key(actx.task)
    except ValueError:  # the search raises the same, with its own words
        bound, key = float("nan"), "metric"
    goal = f"{key} {'≥' if key == 'accuracy' else '≤'} {bound:.4g}"
    rounds = min(len(sizes(n)), 8)  # search_exclusions' max_rounds
    return SearchWatcher(actx, rounds, goal, lambda m: within(actx.task, m, bound))
