"""A file the workbench cannot make yet, measured as the way past the embedding table.

The workbench's artifact steps each start from the fp32 file, so int8 weights and an int4
embedding table cannot be combined in one artifact. This takes the int8 file whose
embeddings stayed fp32 (int8_dynamic with op_types [MatMul]) and stores only its word
embedding Gather in 4 bits with onnxruntime's own block quantizer (GatherBlockQuantized,
what int4_weight_only does with op_types [MatMul, Gather]), then measures its accuracy in
onnxruntime on the same validation split the job used.
"""

from __future__ import annotations

from pathlib import Path

from engine.export.artifact_eval import evaluate_onnx
from engine.recipe import Recipe

# Measured on the chain's int8 file (BBC validation, 334 articles; fp32 96.71%): block 32
# symmetric 96.11% at 8.01x smaller than the teacher, 32 with zero points 96.41% (7.88x), 64
# with zero points 96.71% (8.49x), 128 symmetric 96.41% (8.88x), 16 symmetric 96.71% (7.08x),
# word table only (position / token type left fp32) 97.01% (7.56x): all within 3 articles.
# 64 with zero points is the pick: the one that leaves room under 8x, and closest to fp32.
BLOCK, SYMMETRIC = 64, False


def int4_embeddings(src: Path, dst: Path, block_size: int = BLOCK,
                    symmetric: bool = SYMMETRIC) -> Path:
    """`src` with its Gather tables in int4 blocks (one fp32 scale, and without `symmetric`
    a 4-bit zero point, per `block_size` weights of a row)."""
    from engine.methods.quantize.artifact_files import keep_root_logging, quiet_quantizer

    with keep_root_logging():  # importing it turns on INFO logging
        from onnxruntime.quantization import matmul_nbits_quantizer as mnq
    ops = ("Gather",)
    cfg = mnq.DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric,
                                           op_types_to_quantize=ops)  # fmt: skip
    with quiet_quantizer(print, "int4 embeddings: "):
        q = mnq.MatMulNBitsQuantizer(str(src), block_size=block_size, is_symmetric=symmetric,
                                     op_types_to_quantize=ops, algo_config=cfg)  # fmt: skip
        q.process()
    q.model.save_model_to_file(str(dst))
    return dst


def ort_accuracy(path: Path, rec: Recipe) -> float:
    """The file's accuracy over `rec`'s validation split (the split every link's job used)."""
    from engine.data.loaders import load_data
    from engine.models.loaders import load_model

    loaded = load_model(rec.model) if rec.model.source == "builtin" else None
    if loaded is None:
        raise ValueError("ort_accuracy needs a recipe on a built-in model (for its tokenizer)")
    data = load_data(rec.data, loaded)
    names = ["input_ids", "attention_mask"]
    return evaluate_onnx(path, loaded.task, data.val, names, rec.train.batch_size)["accuracy"]
