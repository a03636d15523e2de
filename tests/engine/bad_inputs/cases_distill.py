"""Bad distillation steps: each refused with one line before anything runs."""

from __future__ import annotations

from pathlib import Path

from tests.engine.bad_inputs.common import Case, run_swapped

STEP = "  - {type: unstructured_prune, amount: 0.5, scope: global}"
TRAIN = "train: {epochs: 1,"
DATA = "data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}"


def _step(yaml: str):
    return run_swapped((STEP, f"  - {yaml}"))


def _other_vocabulary(tmp: Path, ws: Path) -> list[str]:
    """A teacher checkpoint whose vocabulary has 300 tokens; the student's has 258."""
    from engine.models.builtin import tiny_loaded
    from engine.models.checkpoint import save_model
    from engine.models.tiny_gpt import TinyGPT, TinyGPTConfig

    small = TinyGPTConfig(vocab_size=300, d_model=32, n_layer=2, n_head=2, block_size=64)
    save_model(tiny_loaded("tiny-gpt", TinyGPT(small)), tmp / "teacher")
    step = f"{{type: distill, teacher: {{source: checkpoint, path: '{tmp / 'teacher'}'}}}}"
    return _step(step)(tmp, ws)


CASES = [
    Case("distill alpha over 1", _step("{type: distill, alpha: 1.5}"), "methods[0].alpha"),
    Case("distill temperature zero", _step("{type: distill, temperature: 0}"),
         "methods[0].temperature"),
    Case("distill student equal to the teacher",
         _step("{type: distill, keep_layers: [0, 1, 2, 3]}"), "keeps all 4 teacher blocks"),
    Case("distill kept block out of range", _step("{type: distill, keep_layers: [0, 9]}"),
         "the teacher has 4 blocks"),
    Case("distill layer map out of range",
         _step("{type: distill, keep_layers: [0, 2], hidden_weight: 1, layer_map: [0, 7]}"),
         "layer_map"),
    Case("distill teacher with another vocabulary", _other_vocabulary,
         "the teacher's vocabulary has 300 entries but the student's has 258"),
    Case("distill teacher for another task",
         _step("{type: distill, teacher: {source: builtin, path: tiny-bert}}"),
         "classification model"),
    Case("distill teacher file missing",
         _step("{type: distill, teacher: {source: checkpoint, path: no/such/folder}}"),
         "methods[0].teacher_model.path"),
    Case("distill without training",
         run_swapped((STEP, "  - {type: distill}"), (TRAIN, "train: {epochs: 0,")),
         "set train.epochs"),
    Case("distill without data",
         run_swapped((STEP, "  - {type: distill}"), (TRAIN, "train: {epochs: 0,"),
                     (DATA, "data: {source: none}")),
         "needs data"),
    Case("distill as_loaded student of its own parent",
         _step("{type: distill, student: as_loaded}"), "the student the teacher"),
]
CASES.append(Case("distill offline outputs with hidden-state KD",
                  _step("{type: distill, offline_topk: 8, hidden_weight: 1}"), "offline_topk"))
