"""The recipes of bench/distill_chain.py: each link of the chain as a user would write it.

Every link starts from the previous link's run (`model: {source: variant, path: <run id>}`),
all in one workspace, on BBC News (builtin, 128 tokens, 15% validation):
1. teacher: minilm-bbc fine-tuned (the shipped head was trained on a frozen encoder);
2. student: distill, layer drop keeping teacher blocks KEEP, soft labels (alpha, T);
3. pruned: structured pruning of the student's FFN neurons, then a distill step on the
   pruned model (student: as_loaded) with the teacher of link 1 (teacher: model, the
   teacher's run as a variant) - two steps in one recipe, one fine-tune;
4. artifacts: no training, the deployable files of the pruned student, each an artifact step
   (ARTIFACTS), measured in onnxruntime on the validation split by the job itself.
"""

from __future__ import annotations

from engine.recipe import Recipe

SEQ, BATCH = 128, 8
KEEP = [0, 2, 4]
ALPHA, TEMPERATURE = 0.5, 2.0
# int8 as quantize-minilm-int8.yaml measured best on MiniLM (per-channel qint8 weights, the
# file as exported, smoothing 0.7); onnxruntime's default op types take the word-embedding
# Gather to int8 too (one scale for the table).
INT8 = {"type": "int8_dynamic", "per_channel": True, "weight_type": "qint8",
        "optimize": "none", "smooth_alpha": 0.7}  # fmt: skip
# the row names of the artifact steps, in the recipe's order (the card lists them so)
ARTIFACTS = {
    "int8": INT8,
    # the bounded recipe's choice: embeddings stay fp32 (no per-tensor scale over the table)
    "int8, fp32 embeddings": {**INT8, "op_types": ["MatMul"]},
    # int8 MatMuls, the embedding tables in 4-bit blocks of 64 (embeddings: int4)
    "int8 + int4 embeddings": {**INT8, "embeddings": "int4"},
    # int4_weight_only's Gather option: int4 MatMuls too (GatherBlockQuantized + MatMulNBits)
    "int4 + int4 embeddings": {"type": "int4_weight_only", "algorithm": "rtn", "block_size": 32,
                               "accuracy_level": 4, "op_types": ["MatMul", "Gather"]},
}  # fmt: skip


def _recipe(name: str, model: dict, methods: list[dict], steps: int, quick: bool,
            lr: float = 1e-4) -> Recipe:
    """One link: `model` on BBC News, `methods`, `steps` training steps (0: none), fp32 export."""
    # epochs only bound the run: max_steps stops it (BBC is 119 steps an epoch at batch 16)
    train = {"epochs": 20 if steps else 0, "max_steps": max(steps, 1), "batch_size": 16, "lr": lr,
             "warmup_steps": 10, "eval_every": max(steps, 1), "log_every": 10, "seed": 0}
    data = {"source": "builtin", "path": "bbc-news", "max_length": SEQ, "val_fraction": 0.15}
    if quick:
        data["max_samples"] = 300
    return Recipe.from_dict({
        "name": name, "model": model, "data": data, "methods": methods, "train": train,
        "export": {"enabled": True, "opset": 17, "latency_batch": BATCH, "latency_seq": SEQ,
                   "latency_runs": 3},
    })  # fmt: skip


def variant(run_id: str) -> dict:
    """The model spec of an earlier run in the same workspace."""
    return {"source": "variant", "path": run_id}


def teacher_recipe(steps: int, quick: bool) -> Recipe:
    return _recipe("chain-teacher", {"source": "builtin", "path": "minilm-bbc"}, [], steps, quick)


def student_recipe(teacher_id: str, steps: int, quick: bool) -> Recipe:
    step = {"type": "distill", "student": "layer_drop", "keep_layers": KEEP, "alpha": ALPHA,
            "temperature": TEMPERATURE}  # fmt: skip
    return _recipe("chain-student", variant(teacher_id), [step], steps, quick)


def pruned_recipe(student_id: str, teacher_id: str, amount: float, steps: int,
                  quick: bool) -> Recipe:
    """FFN neurons cut by L1 norm in every block, then the cut student distilled again."""
    prune = {"type": "structured_prune", "target": "ffn", "amount": amount, "importance": "l1",
             "scope": "layer"}  # fmt: skip
    kd = {"type": "distill", "teacher": "model", "teacher_model": variant(teacher_id),
          "student": "as_loaded", "alpha": ALPHA, "temperature": TEMPERATURE}  # fmt: skip
    return _recipe("chain-pruned", variant(student_id), [prune, kd], steps, quick)


def artifact_recipe(name: str, model_id: str, steps: list[dict], quick: bool) -> Recipe:
    """No training: the model's fp32 file plus each artifact step's file, all measured."""
    return _recipe(name, variant(model_id), steps, 0, quick)
