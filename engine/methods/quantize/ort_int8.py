"""int8_dynamic and int8_static: onnxruntime's quantize_dynamic / quantize_static on the
exported file, after graph optimization, with per-node error and the optional
accuracy-aware exclusion search recorded in the artifact's summary."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config_fields import config_to_dict
from engine.methods.base import ArtifactContext, ArtifactResult
from engine.methods.quantize import int8_run as run
from engine.methods.quantize.activation_record import record_activation_ranges
from engine.methods.quantize.calibration import calibration_reader, sample_feeds
from engine.methods.quantize.int4_embeddings import int8_op_types, maybe_int4_tables
from engine.methods.quantize.int8_config import (
    DynamicInt8Config,
    StaticInt8Config,
    recipe_problems,
)
from engine.methods.quantize.node_patterns import layer_problems
from engine.registry import register_method

_QTYPE = {"qint8": "QInt8", "quint8": "QUInt8"}
_FORMAT = {"qdq": "QDQ", "qoperator": "QOperator"}
_CALIB = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def _external(path: Path) -> bool:
    from engine.methods.quantize.artifact_files import has_external_data

    return has_external_data(path)


def dynamic_quantizer(cfg: DynamicInt8Config) -> run.Quantize:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def quantize(src: Path, dst: Path, excluded: list[str]) -> None:
        quantize_dynamic(
            str(src), str(dst), op_types_to_quantize=int8_op_types(cfg),
            per_channel=cfg.per_channel, reduce_range=cfg.reduce_range,
            weight_type=getattr(QuantType, _QTYPE[cfg.weight_type]),
            nodes_to_exclude=excluded or None, use_external_data_format=_external(src),
        )  # fmt: skip

    return quantize


def static_quantizer(cfg: StaticInt8Config, reader: Any) -> run.Quantize:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    extra: dict[str, Any] = {
        "ActivationSymmetric": cfg.symmetric_activations,
        "WeightSymmetric": cfg.symmetric_weights,
    }
    if cfg.calibration_method == "percentile":
        extra["CalibPercentile"] = cfg.percentile

    def quantize(src: Path, dst: Path, excluded: list[str]) -> None:
        reader.rewind()  # every candidate of the exclusion search calibrates on the same set
        quantize_static(
            str(src), str(dst), reader, quant_format=getattr(QuantFormat, _FORMAT[cfg.quant_format]),
            op_types_to_quantize=_static_op_types(cfg), per_channel=cfg.per_channel,
            reduce_range=cfg.reduce_range,
            activation_type=getattr(QuantType, _QTYPE[cfg.activation_type]),
            weight_type=getattr(QuantType, _QTYPE[cfg.weight_type]),
            nodes_to_exclude=excluded or None, use_external_data_format=_external(src),
            calibrate_method=getattr(CalibrationMethod, _CALIB[cfg.calibration_method]),
            extra_options=extra,
        )  # fmt: skip

    return quantize


def _static_op_types(cfg: StaticInt8Config) -> list[str] | None:
    """The op types to quantize; None = onnxruntime's default (all it can).

    QOperator's default quantizes every op it has a QLinear form for. On attention, the
    scores' scaling Mul feeds the causal mask's Where(mask, -inf, scores); as QLinearMul its
    float output vanishes and onnxruntime 1.32 fails the whole file ("unknown
    initializers/tensors" naming the scores). Mul and Where (-inf has no int8 value) stay
    float unless the step's op_types asks for them.
    """
    if cfg.op_types or cfg.quant_format != "qoperator":
        return int8_op_types(cfg, cfg.quant_format)
    from onnxruntime.quantization.registry import QLinearOpsRegistry

    return int8_op_types(cfg, "qoperator", sorted(set(QLinearOpsRegistry) - {"Where", "Mul"}))


def _quantize_all(
    cfg: Any, actx: ArtifactContext, kind: str, quantize: run.Quantize,
    feeds: Callable[[Path], list[dict[str, Any]]], work: Path,
) -> tuple[Path, dict[str, Any], list[str]]:  # fmt: skip
    """Prepare, quantize, measure node errors, search exclusions: (file, summary, notes)."""
    from engine.methods.quantize.artifact_files import quiet_quantizer

    actx.progress(0.05, "graph optimization")
    with quiet_quantizer(actx.log, f"{kind}: "):
        prep = run.prepare(cfg, actx, work)
    optimized = prep.path != Path(actx.onnx_path)
    smoothed, quantize = _smooth(cfg, actx, prep, work, quantize)
    dst = run.output_path(actx, kind)
    actx.checkpoint()
    actx.progress(0.3, "quantizing")
    with quiet_quantizer(actx.log, f"{kind}: "):
        run.write_artifact(quantize, prep.path, dst, prep.excluded)
        actx.progress(0.6, "per-node error")
        errors, ranked = run.measure_node_errors(prep.path, dst, feeds(prep.path), actx.log,
                                                 Path(actx.onnx_path), actx=actx)
        search = run.exclusion_search(cfg, actx, quantize, prep, ranked, work)
    excluded = list(prep.excluded)
    if search is not None and search.met and search.excluded:
        excluded = sorted(set(excluded) | set(search.excluded))
        with quiet_quantizer(actx.log, f"{kind}: "):
            run.write_artifact(quantize, prep.path, dst, excluded)
    summary = {
        "settings": config_to_dict(cfg),
        "optimized": optimized,
        "fused": prep.fused,
        "fusions_tried": prep.fusions_tried,
        "excluded_nodes": excluded,
        "node_errors": errors,
    }
    if smoothed is not None:
        summary["smoothing"] = smoothed.record
    if search is not None:
        summary["exclusion"] = {"steps": search.steps, "met": search.met,
                                "excluded": search.excluded, "message": search.message}  # fmt: skip
    # the Export page's activation-range view: histograms and ranges, beside the file
    record_activation_ranges(cfg, summary, prep.path, dst, actx, feeds)
    notes = prep.notes + (smoothed.notes if smoothed is not None else [])
    return dst, summary, notes + ([search.message] if search is not None else [])


def _smooth(
    cfg: Any, actx: ArtifactContext, prep: run.Prepared, work: Path, quantize: run.Quantize
) -> tuple[Any, run.Quantize]:
    """With smooth_alpha set: smooth the prepared graph in place of it (same node names, so
    exclusions and per-node error still line up), and quantize it without touching the
    inserted Mul/Cast nodes (a quantized Mul would take the outlier range again)."""
    from engine.methods.quantize.smooth import SMOOTH_SAMPLES, smooth_prepared

    if not cfg.smooth_alpha:
        return None, quantize
    actx.progress(0.2, "smoothing activations")
    if isinstance(cfg, StaticInt8Config):  # the very samples the ranges are calibrated on
        count, seed = cfg.calibration_samples, cfg.calibration_seed
    else:
        count, seed = SMOOTH_SAMPLES, actx.seed
    smoothed = smooth_prepared(cfg.smooth_alpha, actx, prep.path, work, count, seed)
    prep.path = smoothed.path
    actx.log(f"smoothing: alpha {cfg.smooth_alpha}, {len(smoothed.tensors)} tensor(s) on "
             f"{smoothed.record['samples']} sample(s)")  # fmt: skip

    def quantize_smoothed(src: Path, dst: Path, excluded: list[str]) -> None:
        quantize(src, dst, sorted(set(excluded) | set(smoothed.nodes)))

    return smoothed, quantize_smoothed


def _notes(cfg: Any, summary: dict[str, Any]) -> list[str]:
    notes = []
    fused = summary["fused"]
    if summary["fusions_tried"] and not fused:
        notes.append("no transformer fusions applied: int8 MatMuls stay surrounded by fp32 "
                     "ops, which limits the speed-up on CPU")  # fmt: skip
    elif summary["fusions_tried"] and not {"Attention", "MultiHeadAttention"} & set(fused):
        # measured on MiniLM: only a TorchScript export of eager attention fuses; the
        # dynamo exporter's and SDPA's attention graphs are not patterns the optimizer knows
        notes.append("attention was not fused (LayerNorm/GELU were), so attention runs as "
                     "separate fp32 ops; onnxruntime's optimizer recognizes the TorchScript "
                     "exporter's graph of eager attention, not the dynamo exporter's or "
                     "SDPA's")  # fmt: skip
    if not cfg.per_channel:
        notes.append("per-tensor weight scales; per_channel: true is usually more accurate")
    return notes


def _run_in_workdir(actx: ArtifactContext, body: Callable[[Path], ArtifactResult]) -> ArtifactResult:
    """Intermediate files (prepared graph, search candidates) live in a hidden folder in
    out_dir that is removed whatever happens."""
    Path(actx.out_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=actx.out_dir))
    try:
        return body(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def quantize_int8_dynamic(cfg: DynamicInt8Config, actx: ArtifactContext) -> ArtifactResult:
    def body(work: Path) -> ArtifactResult:
        def feeds(graph: Path) -> list[dict[str, Any]]:
            return sample_feeds(actx.data, actx.example_feeds, graph, run.ERROR_SAMPLES, actx.seed)

        quantize, tables = maybe_int4_tables(cfg, dynamic_quantizer(cfg), actx)
        path, summary, notes = _quantize_all(cfg, actx, "int8-dynamic", quantize, feeds, work)
        notes += tables
        notes = _notes(cfg, summary) + notes
        actx.progress(1.0, "done")
        return ArtifactResult("onnx-int8-dynamic", path, summary, notes)

    return _run_in_workdir(actx, body)


def quantize_int8_static(cfg: StaticInt8Config, actx: ArtifactContext) -> ArtifactResult:
    if actx.data is None or not len(actx.data.train):
        raise run.field_error(actx, "calibration_samples", "static int8 calibrates on the "
                              "recipe's training data and there is none; add a data section, "
                              "or use int8_dynamic")  # fmt: skip

    def body(work: Path) -> ArtifactResult:
        reader, indices = calibration_reader(
            actx.data, actx.onnx_path, cfg.calibration_samples, cfg.calibration_seed,
            on_read=run.calibration_listener(actx),  # live progress on the Run page
            even=cfg.calibration_method in ("entropy", "percentile"),
        )
        counted: dict[str, int] = {}

        def feeds(graph: Path) -> list[dict[str, Any]]:
            counted["fed"] = reader.samples_fed  # what quantize_static read, before reuse
            picked, rows = [], 0  # about ERROR_SAMPLES samples, whatever the batch size
            for batch in reader.batches:
                picked.append(batch)
                rows += len(next(iter(batch.values())))
                if rows >= run.ERROR_SAMPLES:
                    break
            return picked

        quantize, tables = maybe_int4_tables(cfg, static_quantizer(cfg, reader), actx)
        path, summary, notes = _quantize_all(cfg, actx, "int8-static", quantize, feeds, work)
        notes += tables
        summary["calibration"] = _calibration_record(cfg, actx, indices, counted["fed"])
        notes = _notes(cfg, summary) + notes
        if len(indices) < cfg.calibration_samples:
            notes.append(f"calibrated on all {len(indices)} training samples "
                         f"({cfg.calibration_samples} were asked for)")  # fmt: skip
        actx.progress(1.0, "done")
        return ArtifactResult("onnx-int8-static", path, summary, notes)

    return _run_in_workdir(actx, body)


def _calibration_record(
    cfg: StaticInt8Config, actx: ArtifactContext, indices: Any, fed: int
) -> dict[str, Any]:
    return {
        "split": "train",  # never val: the metrics are measured there
        "method": cfg.calibration_method,
        "percentile": cfg.percentile if cfg.calibration_method == "percentile" else None,
        "requested": cfg.calibration_samples,
        "samples_fed": fed,
        "train_indices": [int(i) for i in indices],
        "seed": cfg.calibration_seed,
    }


def check_int8(cfg: Any, module: Any) -> list[str]:
    """Before anything runs: exclude_nodes layer patterns that match no layer of the model."""
    return layer_problems(cfg.exclude_nodes, module)


def _smoothing_label(cfg: Any) -> str:
    return f", smoothed α={cfg.smooth_alpha:g}" if cfg.smooth_alpha else ""


def _tables_label(cfg: Any) -> str:
    return ", int4 embeddings" if cfg.embeddings == "int4" else ""


def describe_dynamic(cfg: DynamicInt8Config) -> str:
    return (f"int8 dynamic ({'per-channel' if cfg.per_channel else 'per-tensor'}"
            f"{_smoothing_label(cfg)}{_tables_label(cfg)})")  # fmt: skip


def describe_static(cfg: StaticInt8Config) -> str:
    return (f"int8 static {cfg.quant_format.upper()}, {cfg.calibration_method}, "
            f"{cfg.calibration_samples} samples{_smoothing_label(cfg)}{_tables_label(cfg)}")  # fmt: skip


register_method(
    "int8_dynamic", "quantize", "Int8 dynamic (onnxruntime)", DynamicInt8Config,
    help="Weights stored in int8, activations quantized on the fly at run time: no "
    "calibration data needed. Usually the fastest route to a 4x smaller transformer on CPU.",
    check=check_int8, rank=10, effect="quantized", stage="artifact", describe=describe_dynamic,
    data_problems=recipe_problems,
)(quantize_int8_dynamic)  # fmt: skip

register_method(
    "int8_static", "quantize", "Int8 static with calibration (onnxruntime)", StaticInt8Config,
    help="Weights and activations in int8, activation ranges measured on training samples "
    "(MinMax, Entropy or Percentile). Needs data.",
    check=check_int8, rank=20, effect="quantized", stage="artifact", describe=describe_static,
    data_problems=recipe_problems,
)(quantize_int8_static)  # fmt: skip
