"""One workspace of real distilled runs, built once per test process and shared by the engine,
CLI and GUI tests of the student-vs-teacher views.

- `student`: the shipped distill-tiny-gpt recipe (tiny GPT, 4 blocks -> 2 by layer drop,
  teacher: parent) shortened to 4 steps on 64 samples, exported at opset 17 (the TorchScript
  exporter: seconds). Its parent is the baseline run the job builds: the teacher.
- `pupil`: a 1-block layer-drop student whose teacher is `student`, named as a workspace
  variant (`teacher: {source: variant, path: <student's name>}`).
- `outsider`: taught by the built-in tiny GPT loaded directly (not a run of the workspace);
  not exported (its teacher has no ONNX file to compare with anyway), to save the seconds.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import shutil
import tempfile
from pathlib import Path

from engine.job import Job, JobResult
from engine.recipe import Recipe

RECIPES = Path(__file__).resolve().parents[3] / "assets" / "recipes"


def short(recipe: Recipe, **changes: object) -> Recipe:
    """The recipe in seconds: 64 samples of 32 tokens, 4 steps, a quick opset-17 export."""
    return recipe.replace(
        data=dataclasses.replace(recipe.data, max_samples=64, max_length=32),
        train=dataclasses.replace(recipe.train, max_steps=4, eval_every=4, batch_size=8, log_every=2),
        export=dataclasses.replace(recipe.export, enabled=True, opset=17, latency_seq=32,
                                   latency_runs=3, parity_batches=1),
        **changes,
    )  # fmt: skip


def _yaml(name: str, keep: str, teacher: str, export: bool = True) -> Recipe:
    recipe = short(Recipe.from_yaml(f"""
name: {name}
model: {{source: builtin, path: tiny-gpt}}
data: {{source: builtin, path: shakespeare}}
methods:
  - {{type: distill, student: layer_drop, keep_layers: {keep}, teacher: {teacher}}}
train: {{epochs: 1, lr: 0.001}}
"""))
    return recipe.replace(export=dataclasses.replace(recipe.export, enabled=export))


@dataclasses.dataclass(frozen=True)
class TeacherRuns:
    root: Path
    student: JobResult  # teacher: parent (the baseline)
    pupil: JobResult  # teacher: the `student` variant
    outsider: JobResult  # teacher: the built-in tiny GPT, not a workspace run


@functools.cache
def teacher_runs() -> TeacherRuns:
    root = Path(tempfile.mkdtemp(prefix="wb-teacher-ws-"))
    atexit.register(shutil.rmtree, root, True)
    student = Job(short(Recipe.load(RECIPES / "distill-tiny-gpt.yaml")), workspace=root).run()
    assert student.ok, student.error
    pupil = Job(_yaml("pupil", "[0]", f"{{source: variant, path: {student.card['name']}}}"),
                workspace=root).run()  # fmt: skip
    assert pupil.ok, pupil.error
    outsider = Job(_yaml("outsider", "[1, 3]", "{source: builtin, path: tiny-gpt}", export=False),
                   workspace=root).run()  # fmt: skip
    assert outsider.ok, outsider.error
    return TeacherRuns(root, student, pupil, outsider)
