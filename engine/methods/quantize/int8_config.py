"""Settings of the int8 steps (int8_dynamic, int8_static); forms are generated from these.

Only the standard library here: registry discovery imports every module under
engine/methods/, so onnxruntime is imported lazily, where a check needs its op lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.config_fields import option

WEIGHT_TYPES = ("qint8", "quint8")
OPTIMIZE_MODES = ("auto", "none", "basic", "transformer")
QUANT_FORMATS = ("qdq", "qoperator")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
EMBEDDING_MODES = ("int8", "int4")

_OP_TYPES_HELP = (
    "op types to quantize, e.g. [MatMul, Gather]; empty = onnxruntime's default for this mode "
    "(the card records the list used)"
)
_EXCLUDE_HELP = (
    "nodes kept in fp32: exact ONNX node names, layer names as the anatomy shows them "
    "(e.g. encoder.layer.0.output.dense), fnmatch patterns (*.classifier*) or 're:' + a "
    "regular expression"
)
_OPTIMIZE_HELP = (
    "graph optimization before quantizing: auto = shape inference, plus the transformer "
    "fusions (attention, LayerNorm, GELU) when the graph is a transformer; basic = shape "
    "inference only; transformer = always try the fusions; none = quantize the file as exported"
)
_MAX_DROP_HELP = (
    "accuracy-aware exclusion: keep the worst nodes in fp32 until the artifact is within this "
    "of fp32 (classifiers: accuracy drop as a fraction, 0.005 = half a point; LMs: perplexity "
    "rise as a ratio, 0.05 = +5%); empty = off; needs data"
)
_SMOOTH_HELP = (
    "activation smoothing (SmoothQuant) before quantizing: each channel of a LayerNorm or "
    "GELU output is divided by a scale that the weights reading it absorb, so the fp32 model "
    "is unchanged but a few outlier channels no longer set the whole int8 range; alpha in "
    "(0, 1] sets how much range moves into the weights (0.7 is a good start); empty or 0 = "
    "off. Helps transformers whose activations have outlier channels (BERT/MiniLM: cosine "
    "0.992 -> 0.997); scales come from training samples"
)


def _registry_ops(mode: str) -> set[str]:
    """The op types onnxruntime can quantize in `mode` (dynamic | qdq | qoperator)."""
    from onnxruntime.quantization import registry

    table = {
        "dynamic": registry.IntegerOpsRegistry,
        "qdq": registry.QDQRegistry,
        "qoperator": registry.QLinearOpsRegistry,
    }[mode]
    return set(table)


def op_type_problem(op_types: tuple[str, ...], mode: str) -> str | None:
    """Why some op types cannot be quantized in `mode` (a typo, or Gemm in dynamic); else None."""
    known = _registry_ops(mode)
    bad = [op for op in op_types if op not in known]
    if not bad:
        return None
    return (
        f"{', '.join(bad)} cannot be quantized in {mode} mode by onnxruntime; "
        f"use some of {', '.join(sorted(known))}"
    )


def pattern_problem(patterns: tuple[str, ...]) -> str | None:
    """An empty pattern or a 're:' pattern that is not a valid regular expression."""
    for pat in patterns:
        if not pat.strip():
            return "has an empty pattern; remove it"
        if pat.startswith("re:"):
            try:
                re.compile(pat[3:])
            except re.error as exc:
                return f"{pat!r} is not a valid regular expression ({exc})"
    return None


def _embeddings_option() -> Any:
    return option(
        "int8", choices=EMBEDDING_MODES, label="Embedding tables", advanced=True,
        help="how embedding tables (Gather) are stored: int8 = as op_types says (onnxruntime's "
        "default quantizes them with one scale per table); int4 = 4-bit blocks of 64 with "
        "zero points while the MatMuls stay int8: on small transformers the 30k-token table "
        "is most of the file (MiniLM 3 blocks: 15.8 -> 10.7 MB, same accuracy); needs a graph "
        "whose embedding Gathers are not fused (optimize: none or basic on BERT)",
    )  # fmt: skip


@dataclass(frozen=True)
class DynamicInt8Config:
    per_channel: bool = option(
        False,
        help="one scale per output channel of each weight (more accurate, slightly larger)",
    )
    reduce_range: bool = option(
        False,
        help="7-bit weights: avoids overflow on CPUs without VNNI (older x86), costs accuracy",
        advanced=True,
    )
    weight_type: str = option(
        "qint8", choices=WEIGHT_TYPES, help="signed (qint8) or unsigned (quint8) 8-bit weights"
    )
    op_types: tuple[str, ...] = option(default_factory=tuple, label="Op types", help=_OP_TYPES_HELP, advanced=True)
    exclude_nodes: tuple[str, ...] = option(default_factory=tuple, label="Keep in fp32", help=_EXCLUDE_HELP)
    optimize: str = option("auto", choices=OPTIMIZE_MODES, label="Graph optimization", help=_OPTIMIZE_HELP)
    max_drop: float | None = option(None, min=0.0, label="Max metric drop", help=_MAX_DROP_HELP)
    smooth_alpha: float | None = option(
        None, min=0.0, max=1.0, label="Smoothing alpha", help=_SMOOTH_HELP, advanced=True
    )
    embeddings: str = _embeddings_option()
    num_heads: int = option(
        0, min=0, max=4096, advanced=True,
        help="attention heads, for the transformer fusions (0 = read from the graph)",
    )  # fmt: skip
    hidden_size: int = option(
        0, min=0, max=1_000_000, advanced=True,
        help="model width, for the transformer fusions (0 = read from the graph)",
    )  # fmt: skip

    def extra_checks(self) -> list[tuple[str, str]]:
        return _common_checks(self, "dynamic")


@dataclass(frozen=True)
class StaticInt8Config:
    quant_format: str = option(
        "qdq",
        label="Format",
        choices=QUANT_FORMATS,
        help="qdq: QuantizeLinear/DequantizeLinear pairs that the runtime fuses (portable, the "
        "default); qoperator: QLinear* operators written directly",
    )
    calibration_method: str = option(
        "minmax",
        choices=CALIBRATION_METHODS,
        help="how activation ranges are set from the calibration samples: minmax = observed "
        "range; entropy = KL-divergence cut; percentile = clip at a percentile",
    )
    percentile: float = option(
        99.999,
        min=0.0,
        min_exclusive=True,
        max=100.0,
        help="activation values above this percentile are clipped (in (0, 100])",
        shown_when={"calibration_method": ("percentile",)},
    )
    calibration_samples: int = option(
        64, min=1, max=100_000, help="training samples the ranges are measured on (never the validation split)"
    )
    calibration_seed: int = option(0, min=0, help="which training samples are drawn")
    per_channel: bool = option(False, help="one scale per output channel of each weight")
    symmetric_activations: bool = option(
        False, help="activation ranges symmetric around 0", advanced=True
    )
    symmetric_weights: bool = option(True, help="weight ranges symmetric around 0", advanced=True)
    activation_type: str = option(
        "quint8", choices=WEIGHT_TYPES, help="8-bit type of activations", advanced=True
    )
    weight_type: str = option("qint8", choices=WEIGHT_TYPES, help="8-bit type of weights")
    reduce_range: bool = option(
        False, help="7-bit weights, for CPUs without VNNI", advanced=True
    )
    op_types: tuple[str, ...] = option(default_factory=tuple, label="Op types", help=_OP_TYPES_HELP, advanced=True)
    exclude_nodes: tuple[str, ...] = option(default_factory=tuple, label="Keep in fp32", help=_EXCLUDE_HELP)
    optimize: str = option("auto", choices=OPTIMIZE_MODES, label="Graph optimization", help=_OPTIMIZE_HELP)
    max_drop: float | None = option(None, min=0.0, label="Max metric drop", help=_MAX_DROP_HELP)
    smooth_alpha: float | None = option(
        None, min=0.0, max=1.0, label="Smoothing alpha", help=_SMOOTH_HELP, advanced=True
    )
    embeddings: str = _embeddings_option()
    num_heads: int = option(
        0, min=0, max=4096, advanced=True,
        help="attention heads, for the transformer fusions (0 = read from the graph)",
    )  # fmt: skip
    hidden_size: int = option(
        0, min=0, max=1_000_000, advanced=True,
        help="model width, for the transformer fusions (0 = read from the graph)",
    )  # fmt: skip

    def extra_checks(self) -> list[tuple[str, str]]:
        return _common_checks(self, self.quant_format)


def _common_checks(cfg: DynamicInt8Config | StaticInt8Config, mode: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    msg = op_type_problem(cfg.op_types, mode)
    if msg:
        problems.append(("op_types", msg))
    msg = pattern_problem(cfg.exclude_nodes)
    if msg:
        problems.append(("exclude_nodes", msg))
    if cfg.embeddings == "int4" and "Gather" in cfg.op_types:
        problems.append(("op_types", "lists Gather, and embeddings: int4 stores the tables in 4 "
                         "bits instead; remove Gather, or set embeddings: int8"))
    return problems


def recipe_problems(cfg: object, has_data: bool) -> list[tuple[str, str]]:
    """(field, message) for an int8 step this recipe cannot run, known at load time.

    Static calibration draws its samples from the recipe's training data, and the
    accuracy-aware search needs the validation split to measure the artifact on.
    """
    if has_data:
        return []
    if isinstance(cfg, StaticInt8Config):
        return [("calibration_samples", "static int8 calibrates on the recipe's training data "
                 "and this recipe has none; add a data section, or use int8_dynamic")]
    if getattr(cfg, "max_drop", None) is not None:
        return [("max_drop", "the accuracy-aware exclusion measures the artifact on the "
                 "validation split and this recipe has no data; add a data section, or "
                 "clear max_drop")]
    return []
