"""Bad quantization steps: each refused with one line before anything runs."""

from __future__ import annotations

from tests.engine.bad_inputs.common import Case, run_swapped

DATA = "data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}"
STEP = "  - {type: unstructured_prune, amount: 0.5, scope: global}"
EXPORT = "export: {parity_batches: 1, latency_runs: 3, latency_seq: 32, opset: 17}"


def _step(yaml: str):
    return run_swapped((STEP, f"  - {yaml}"))


CASES = [
    Case("int8 static percentile over 100",
         _step("{type: int8_static, calibration_method: percentile, percentile: 101}"),
         "percentile"),
    Case("int8 static zero calibration samples",
         _step("{type: int8_static, calibration_samples: 0}"), "calibration_samples"),
    Case("int8 static without data",
         run_swapped((STEP, "  - {type: int8_static}"), (DATA, "data: {source: none}"),
                     ("train: {epochs: 1,", "train: {epochs: 0,")),
         "calibrates on the recipe's training data"),
    Case("int8 exclude pattern matches nothing",
         _step("{type: int8_dynamic, exclude_nodes: [no_such_layer_anywhere]}"),
         "no_such_layer_anywhere"),
    Case("int8 smoothing alpha over 1",
         _step("{type: int8_dynamic, smooth_alpha: 1.5}"), "smooth_alpha"),
    Case("int8 embeddings int4 with Gather in op_types",
         _step("{type: int8_dynamic, embeddings: int4, op_types: [MatMul, Gather]}"),
         "remove Gather, or set embeddings: int8"),
    Case("int8 embeddings neither int8 nor int4",
         _step("{type: int8_dynamic, embeddings: int2}"), "embeddings"),
    Case("int4 block size not a power of two",
         _step("{type: int4_weight_only, block_size: 48}"), "block_size"),
    Case("quantize step with export off",
         run_swapped((STEP, "  - {type: int8_dynamic}"), (EXPORT, "export: {enabled: false}")),
         "export.enabled is false"),
    Case("model step after a quantize step",
         run_swapped((STEP, "  - {type: int8_dynamic}\n" + STEP)),
         "move this step before Step 1"),
]
