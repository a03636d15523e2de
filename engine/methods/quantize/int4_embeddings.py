"""`embeddings: int4` on the dynamic int8 step: int8 MatMuls, embedding tables in 4 bits.

On a small transformer the word-embedding table is most of the int8 file (MiniLM, 3 blocks
pruned: 11.7 of 15.8 MB), and a single int8 scale over the whole 30k-row table also costs
accuracy. The int8 pass therefore leaves Gather alone, and onnxruntime's own blockwise
quantizer (matmul_nbits_quantizer, the C++ RTN path int4_weight_only uses) then stores each
Gather table in blocks of 64 weights with a scale and a 4-bit zero point
(GatherBlockQuantized), while the MatMuls keep int8's speed. Measured on that model
(bench/distill_chain.py): 15.8 -> 10.7 MB, the same accuracy; block 64 with zero points was the
closest to fp32 of five settings tried that still halve the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.methods.quantize.int8_run import Quantize

EMBEDDING_BLOCK = 64
TABLE_OPS = {"Gather", "EmbedLayerNormalization"}  # what would quantize the tables in int8


def int8_op_types(cfg: Any, mode: str = "dynamic", default: list[str] | None = None) -> list[str] | None:
    """The op types the int8 pass quantizes: the step's, else `default` (None: onnxruntime's
    own for `mode`), without the table lookups when they are to be stored in 4 bits instead."""
    ops = list(cfg.op_types) or default
    if getattr(cfg, "embeddings", "int8") != "int4":
        return ops
    if ops is None:
        from onnxruntime.quantization import registry

        table = {"dynamic": registry.IntegerOpsRegistry, "qdq": registry.QDQRegistry,
                 "qoperator": registry.QLinearOpsRegistry}[mode]  # fmt: skip
        ops = sorted(table)
    return [op for op in ops if op not in TABLE_OPS]


def store_tables_int4(path: Path, log: Any) -> int:
    """Rewrite `path` with its Gather tables in 4-bit blocks; how many tables were stored.

    Only initializer tables are touched (a Gather over activations has nothing to store).
    """
    from engine.methods.quantize.artifact_files import keep_root_logging, quiet_quantizer

    with keep_root_logging():  # the module turns on INFO logging when imported
        from onnxruntime.quantization import matmul_nbits_quantizer as mnq
    ops = ("Gather",)
    algo = mnq.DefaultWeightOnlyQuantConfig(block_size=EMBEDDING_BLOCK, is_symmetric=False,
                                            op_types_to_quantize=ops)  # fmt: skip
    with quiet_quantizer(log, "int4 embeddings: "):
        quantizer = mnq.MatMulNBitsQuantizer(str(path), block_size=EMBEDDING_BLOCK,
                                             is_symmetric=False, op_types_to_quantize=ops,
                                             algo_config=algo)  # fmt: skip
        quantizer.process()
    model = quantizer.model.model
    stored = sum(n.op_type == "GatherBlockQuantized" for n in model.graph.node)
    if stored:
        quantizer.model.save_model_to_file(str(path))
    return stored


def with_int4_tables(quantize: Quantize, log: Any, problem: Any) -> Quantize:
    """`quantize`, then the file's tables in 4 bits: every file the step writes (the
    exclusion search's candidates too) is the file it ships. `problem(message)` -> the
    exception to raise when the graph has no table left to store (fused away)."""

    def quantize_then_tables(src: Path, dst: Path, excluded: list[str]) -> None:
        quantize(src, dst, excluded)
        if not store_tables_int4(dst, log):
            raise problem(
                "embeddings int4 found no Gather over an embedding table to store in 4 bits "
                "(graph optimization fuses BERT's embeddings into EmbedLayerNormalization); "
                "set optimize: none or basic, or embeddings: int8"
            )

    return quantize_then_tables


def maybe_int4_tables(cfg: Any, quantize: Quantize, actx: Any) -> tuple[Quantize, list[str]]:
    """(the quantizer the step uses, notes for the card): with `embeddings: int4`, the int8
    quantizer followed by the 4-bit tables, and a note saying so; else `quantize` unchanged."""
    if getattr(cfg, "embeddings", "int8") != "int4":
        return quantize, []
    from engine.methods.quantize.int8_run import field_error

    wrapped = with_int4_tables(quantize, actx.log, lambda msg: field_error(actx, "embeddings", msg))
    return wrapped, [f"embedding tables stored in 4-bit blocks of {EMBEDDING_BLOCK} with zero "
                     "points (GatherBlockQuantized); the MatMuls are int8"]  # fmt: skip
