"""The distill step's settings (forms are generated from these fields).

Only the standard library and the config machinery: registry discovery imports every module
under engine/methods/. `teacher: parent` is the model the recipe loads, as loaded (before any
step changes it); `teacher: model` loads `teacher_model`. A recipe may also write the teacher's
model spec directly under `teacher:` (`teacher: {source: hf, path: ...}`): `from_recipe`
turns that shorthand into `teacher: model` + `teacher_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.config_fields import option
from engine.recipe import ModelSpec

TEACHERS = ("parent", "model")
STUDENTS = ("layer_drop", "smaller", "as_loaded")
HIDDEN_KINDS = ("mse", "cosine")
_DROP = {"student": ("layer_drop",)}
_SMALLER = {"student": ("smaller",)}


@dataclass(frozen=True)
class DistillConfig:
    teacher: str = option(
        "parent",
        choices=TEACHERS,
        help="parent = the model this recipe loads, as loaded (before earlier steps change it: "
        "prune, then distill from the unpruned model); model = load the teacher below",
    )
    teacher_model: ModelSpec = option(
        ModelSpec(),
        label="Teacher model",
        help="where the teacher comes from (a workspace variant, a Hugging Face folder, ...); "
        "it must share the student's vocabulary / labels",
        shown_when={"teacher": ("model",)},
    )
    student: str = option(
        "layer_drop",
        choices=STUDENTS,
        help="layer_drop = keep some of the teacher's blocks with their weights (DistilBERT); "
        "smaller = the same architecture with fewer / narrower layers, randomly initialised; "
        "as_loaded = the model as the earlier steps left it (e.g. structured-pruned)",
    )
    keep_layers: tuple[int, ...] = option(
        default_factory=tuple,
        help="teacher block indices the student keeps, from 0 (empty = every other one: "
        "0, 2, 4, ...)",
        shown_when=_DROP,
        editor="layer_picker",  # the form shows one toggle per block of the loaded model
    )
    student_layers: int | None = option(
        None, min=1, max=1000,
        help="blocks of the smaller student (empty = half the teacher's)", shown_when=_SMALLER,
    )  # fmt: skip
    width_factor: float = option(
        1.0, min=0.0, max=1.0, min_exclusive=True,
        help="hidden width of the smaller student as a fraction of the teacher's (1 = same)",
        shown_when=_SMALLER,
    )  # fmt: skip
    alpha: float = option(
        0.5, min=0.0, max=1.0,
        help="weight of the task loss on the true labels; 1 - alpha weighs the soft-label loss "
        "(the teacher's outputs)",
    )  # fmt: skip
    temperature: float = option(
        2.0, min=0.0, max=100.0, min_exclusive=True,
        help="softens both models' outputs before they are compared (KD is scaled by T²); "
        "1 = the plain probabilities, 2-4 is usual",
    )  # fmt: skip
    hidden_weight: float = option(
        0.0, min=0.0, max=1000.0,
        help="weight of the hidden-state loss between mapped student and teacher blocks "
        "(0 = off)",
    )  # fmt: skip
    hidden_kind: str = option(
        "mse", choices=HIDDEN_KINDS,
        help="how hidden states are compared (with hidden_weight above 0): mean squared error "
        "or cosine distance", advanced=True,
    )  # fmt: skip
    layer_map: tuple[int, ...] = option(
        default_factory=tuple,
        help="for each student block, the teacher block its hidden state learns from (empty = "
        "for layer drop, the last teacher block each kept block stands in for, e.g. keep "
        "[0, 2, 4] of 6 -> [1, 3, 5]; else evenly spaced)",
        advanced=True,
    )
    attention_weight: float = option(
        0.0, min=0.0, max=1000.0,
        help="weight of the last block's attention-map loss (MiniLM-style KL; 0 = off)",
    )  # fmt: skip
    offline_topk: int | None = option(
        None, min=1, max=1 << 20, label="Offline top-k",
        help="run the teacher once over the training data and keep its top-k logits in the run "
        "folder, then train without the teacher in memory (for large teachers; soft labels "
        "only); empty = the teacher runs alongside the student", advanced=True,
    )  # fmt: skip
    chunk: int = option(
        1024, min=1, max=1 << 20,
        help="token positions per piece of a language model's vocabulary-wide KD (bounds "
        "memory at long sequences)", advanced=True,
    )  # fmt: skip

    @classmethod
    def from_recipe(cls, data: dict[str, Any]) -> dict[str, Any]:
        """`teacher: {source: ..., path: ...}` (a model spec written in place) as teacher: model."""
        spec = data.get("teacher")
        if isinstance(spec, (dict, ModelSpec)):
            return {**data, "teacher": "model", "teacher_model": spec}
        return data

    def extra_checks(self) -> list[tuple[str, str]]:
        if any(i < 0 for i in self.keep_layers):
            return [("keep_layers", f"block indices start at 0; got {list(self.keep_layers)}")]
        if len(set(self.keep_layers)) != len(self.keep_layers):
            return [("keep_layers", f"names a block twice: {list(self.keep_layers)}")]
        if any(i < 0 for i in self.layer_map):
            return [("layer_map", f"block indices start at 0; got {list(self.layer_map)}")]
        if self.offline_topk and (self.hidden_weight or self.attention_weight):
            return [("offline_topk", "recorded teacher outputs hold logits only; set "
                     "hidden_weight and attention_weight to 0, or leave offline_topk empty")]
        return []

    @property
    def cuts_tensors(self) -> bool:
        """False for as_loaded: the student is the model itself, so earlier masks stay valid."""
        return self.student != "as_loaded"

    @property
    def shrinks_layers(self) -> bool:
        """False: a student drops or rebuilds whole blocks, it does not narrow layers, so the
        Run page's what-each-layer-lost view has nothing to show."""
        return False

    def notes(self, module: Any, task: str, has_data: bool | None) -> list[str]:
        """What the step will do, in words (the estimate and `workbench-cli check` show them)."""
        from engine.methods.distill.distill import distill_notes  # torch: only when used

        return distill_notes(self, module)

    def load_problems(self, loaded: Any, load: Callable[[Any], Any]) -> list[tuple[str, str]]:
        """A teacher that cannot teach the recipe's model, found in the load stage (`load` loads
        it once for the job), so nothing is registered or run for a bad pairing."""
        if self.teacher != "model":  # the parent: the student is built from it, same outputs
            return []
        from engine.methods.distill.teacher import teacher_problems  # torch: only when used

        return teacher_problems(self, loaded, load)

    def recipe_checks(self, recipe: Any) -> list[tuple[str, str]]:
        """What this step needs from the rest of the recipe: training, on data."""
        if recipe.data.source == "none":
            return [("type", "distillation trains the student towards the teacher, so it needs "
                     "data; set data.source (text/labelled/builtin) or remove this step")]
        if recipe.train.epochs == 0:
            return [("type", "distillation trains the student towards the teacher; set "
                     "train.epochs (and train.max_steps) above 0, or remove this step")]
        if self.student == "as_loaded" and self.teacher == "parent" and not _changed_before(
            self, recipe.methods
        ):
            return [("student", "as_loaded with teacher: parent makes the student the teacher "
                     "itself (no earlier step changes it); use layer_drop or smaller, put a "
                     "pruning step first, or set teacher: model")]
        return []


def _changed_before(step: Any, steps: tuple[Any, ...]) -> bool:
    """True when a step before `step` changes the module (prunes it)."""
    from engine.registry import entry_for_config  # the registry imports this module

    for other in steps:
        if other is step:
            return False
        try:
            if entry_for_config(other).effect != "none":
                return True
        except KeyError:  # not a method config: Recipe.errors names it
            continue
    return False
