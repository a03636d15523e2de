"""The int4_weight_only step's settings (forms and recipe validation are built from these)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config_fields import option

ALGORITHMS = ("rtn", "hqq", "gptq")
ALGORITHM_LABELS = {"rtn": "RTN", "hqq": "HQQ", "gptq": "GPTQ"}
# MatMulNBits packs whole blocks of a power of two, at least 16 (the contrib op's rule)
BLOCK_SIZES = (16, 32, 64, 128, 256)
OP_TYPES = ("MatMul", "Gather")


@dataclass(frozen=True)
class Int4WeightOnlyConfig:
    algorithm: str = option(
        "rtn",
        choices=ALGORITHMS,
        help="rtn: round to the nearest of 16 levels (fast, no data); hqq: optimised scales and "
        "zero points (no data; runs slower on CPU); gptq: corrects the rounding with training "
        "samples (needs data)",
    )
    block_size: int = option(
        32,
        choices=BLOCK_SIZES,
        help="weights sharing one scale (and zero point) along the input dimension: smaller "
        "blocks are closer to fp32 and store more scales (32 is the usual choice for LMs)",
    )
    symmetric: bool = option(
        True,
        help="scales only, no zero points (smaller, a little faster); off: a zero point per "
        "block, closer for weights not centred on zero (and for gptq)",
        shown_when={"algorithm": ("rtn", "gptq")},
    )
    accuracy_level: int = option(
        0,
        choices=(0, 1, 2, 3, 4),
        help="what the int4 MatMul computes in: 0 = unset (fp32), 1 = fp32, 2 = fp16, 3 = bf16, "
        "4 = int8 (usually the fastest on x86 CPUs, slightly less accurate)",
        shown_when={"algorithm": ("rtn", "gptq")},
    )
    op_types: tuple[str, ...] = option(
        default_factory=lambda: ("MatMul",),
        label="Op types",
        help="what is quantized: MatMul = the weights of Linear layers; add Gather to also store "
        "embedding tables in 4 bits (rtn only; needs opset 21, which the file is moved to)",
        advanced=True,
    )
    exclude_nodes: tuple[str, ...] = option(
        default_factory=tuple,
        label="Keep in fp32",
        help="layers left in fp32: layer names (lm_head, *.mlp.proj; fnmatch), ONNX node names "
        "(/blocks.0/attn/qkv/MatMul) or 're:' + a regex",
    )
    calibration_samples: int = option(
        32,
        min=1,
        max=4096,
        help="training-split samples GPTQ measures layer inputs on (never the validation split)",
        shown_when={"algorithm": ("gptq",)},
    )
    damping: float = option(
        0.01,
        min=0.0,
        max=1.0,
        min_exclusive=True,
        help="GPTQ dampening: this fraction of the mean Hessian diagonal is added to it "
        "(raise it if GPTQ fails on an ill-conditioned layer)",
        shown_when={"algorithm": ("gptq",)},
        advanced=True,
    )
    act_order: bool = option(
        False,
        help="GPTQ quantizes the input columns with the largest activations first (often "
        "closer, slower)",
        shown_when={"algorithm": ("gptq",)},
        advanced=True,
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        unknown = [t for t in self.op_types if t not in OP_TYPES]
        if not self.op_types or unknown:
            what = f"has {', '.join(map(repr, unknown))}" if unknown else "is empty"
            return [("op_types", f"{what}; use [MatMul] or [MatMul, Gather]")]
        if "Gather" in self.op_types and self.algorithm != "rtn":
            return [("op_types", f"Gather (embeddings) can only be quantized with algorithm "
                     f"rtn, not {self.algorithm}; remove Gather or use rtn")]
        return []


def describe_int4(cfg: Int4WeightOnlyConfig) -> str:
    """The card's label: 'int4 weight-only (GPTQ, block 32)'."""
    parts = [ALGORITHM_LABELS[cfg.algorithm], f"block {cfg.block_size}"]
    if cfg.algorithm != "hqq" and not cfg.symmetric:
        parts.append("zero points")
    if "Gather" in cfg.op_types:
        parts.append("+ embeddings")
    if cfg.exclude_nodes:
        parts.append(f"{len(cfg.exclude_nodes)} pattern(s) kept fp32")
    return f"int4 weight-only ({', '.join(parts)})"
