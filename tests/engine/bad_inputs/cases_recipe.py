"""Bad recipes: the file itself, its YAML, its sections and its settings."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.engine.bad_inputs.common import Case, run_swapped, run_text
from tests.engine.conftest import TINY_RECIPE

MODEL = "model: {source: builtin, path: tiny-gpt}"
DATA = "data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}"
STEP = "{type: unstructured_prune, amount: 0.5, scope: global}"
TRAIN = "train: {epochs: 1, max_steps: 8, batch_size: 8, lr: 0.001, eval_every: 4, log_every: 2}"
EXPORT = "export: {parity_batches: 1, latency_runs: 3, latency_seq: 32, opset: 17}"

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def _bomb_in(field_yaml: str) -> str:
    """A billion-laughs document whose last alias sits in `field_yaml` (e.g. notes: *g)."""
    body = TINY_RECIPE.replace("name: tiny-prune\n", "name: tiny-prune\n" + field_yaml + "\n")
    return "x_anchors:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines()) + body


def _not_a_path(tmp: Path, ws: Path) -> list[str]:
    return ["run", str(tmp / "missing.yaml"), "-w", str(ws), "-q"]


def _folder(tmp: Path, ws: Path) -> list[str]:
    (tmp / "recipes").mkdir()
    return ["run", str(tmp / "recipes"), "-w", str(ws), "-q"]


def _cuda_wanted():
    return run_swapped((TRAIN, TRAIN.replace("epochs: 1", "epochs: 1, device: cuda")))


CASES = [
    # the file
    Case("recipe missing", _not_a_path, "recipe file not found"),
    Case("recipe is a folder", _folder, "recipes is a folder"),
    Case("recipe over 1 MB", run_text("name: big\nnotes: '" + "x" * (2 << 20) + "'\n"),
         "bad.yaml is 2,097,1"),
    Case("recipe not UTF-8", run_text(TINY_RECIPE.replace("tiny-prune", "caf\xe9").encode("cp1252")),
         "bad.yaml is not UTF-8 text (byte 0xe9 at offset"),
    Case("recipe is binary", run_text(b"\x00\x01\x02name: x\x00"), "bad.yaml is a binary file"),
    Case("recipe not YAML", run_text("name: [unclosed\nmodel: {"), "bad.yaml is not valid YAML"),
    Case("recipe empty", run_text(""), "must be a YAML mapping"),
    Case("recipe is a list", run_text("- a\n- b\n"), "must be a YAML mapping"),
    # bounded YAML
    Case("alias bomb in an unknown key", run_text(_bomb_in("")), "billion laughs"),
    Case("alias bomb in notes", run_text(_bomb_in("notes: *g")), "billion laughs"),
    Case("alias bomb in input_shape",
         run_text(_bomb_in("").replace(MODEL, "model: {source: builtin, path: tiny-gpt, input_shape: *g}")),
         "billion laughs"),
    Case("recursive anchor", run_text("name: &n [*n]\n"), "recursive anchor"),
    Case("nested 500 deep", run_text("notes: " + "[" * 500 + "]" * 500 + "\n"), "nested more than"),
    # sections of the wrong shape
    Case("unknown section", run_text(TINY_RECIPE + "modle: {}\n"), "modle: unknown section"),
    Case("model is a string", run_swapped((MODEL, "model: tiny-gpt")), "model: must be a mapping"),
    Case("train is a list", run_swapped((TRAIN, "train: [1, 2]")), "train: must be a mapping"),
    Case("data is a number", run_swapped((DATA, "data: 5")), "data: must be a mapping"),
    Case("export is a bool", run_swapped((EXPORT, "export: yes")), "export: must be a mapping"),
    Case("methods is a mapping", run_swapped(("methods:\n  - " + STEP, "methods: " + STEP)),
         "methods: must be a list"),
    Case("step without type", run_swapped((STEP, "{amount: 0.5}")), "methods[0]: needs a 'type:'"),
    Case("unknown method", run_swapped((STEP, "{type: magic_prune}")), "methods[0].type"),
    Case("unknown setting", run_swapped((MODEL, "model: {source: builtin, pathh: tiny-gpt}")),
         "model.pathh: unknown setting"),
    Case("name is a list", run_swapped(("name: tiny-prune", "name: [a, b]")), "name: must be text"),
    Case("name empty", run_swapped(("name: tiny-prune", "name: ' '")), "name: is empty"),
    Case("notes too long", run_swapped(("name: tiny-prune", "name: tiny-prune\nnotes: " + "n" * 30000)),
         "notes: is 30,000 characters"),
    # settings of the wrong type or range
    Case("amount 1.5", run_swapped(("amount: 0.5", "amount: 1.5")),
         "methods[0].amount: must be in [0, 1), got 1.5"),
    Case("amount text", run_swapped(("amount: 0.5", "amount: half")), "methods[0].amount: must be a number"),
    Case("amount NaN", run_swapped(("amount: 0.5", "amount: .nan")), "methods[0].amount: must be a finite"),
    Case("batch size 0", run_swapped(("batch_size: 8", "batch_size: 0")), "train.batch_size: must be in"),
    Case("batch size 2.5", run_swapped(("batch_size: 8", "batch_size: 2.5")),
         "train.batch_size: must be a whole number"),
    Case("lr negative", run_swapped(("lr: 0.001", "lr: -1")), "train.lr: must be in"),
    Case("lr text", run_swapped(("lr: 0.001", "lr: fast")), "train.lr: must be a number"),
    Case("epochs true", run_swapped(("epochs: 1", "epochs: true")), "train.epochs: must be a whole number"),
    Case("model source unknown", run_swapped((MODEL, "model: {source: s3, path: x}")),
         "model.source: must be one of"),
    Case("model path empty", run_swapped((MODEL, "model: {source: builtin, path: ''}")),
         "model.path: is empty"),
    Case("max_length 4", run_swapped(("max_length: 32", "max_length: 4")), "data.max_length: must be in"),
    Case("val_fraction 0", run_swapped(("max_samples: 200", "max_samples: 200, val_fraction: 0")),
         "data.val_fraction"),
    Case("opset 7", run_swapped((EXPORT, "export: {opset: 7}")), "export.opset: must be in"),
    Case("include list of numbers", run_swapped(("scope: global", "scope: global, include: [1, 2]")),
         "methods[0].include: item 1 must be text"),
    Case("overrides value text", run_swapped(("scope: global", "scope: global, overrides: {'*': x}")),
         "methods[0].overrides: value for '*' must be a finite number"),
    Case("input_shape with text", run_swapped((MODEL, "model: {source: builtin, path: tiny-gpt, input_shape: [1, a]}")),
         "model.input_shape: item 2 must be a whole number"),
    Case("input_shape with a negative size",
         run_swapped((MODEL, "model: {source: builtin, path: tiny-gpt, input_shape: [1, -3]}")),
         "model.input_shape: needs sizes of at least 1"),
    Case("input_shape of a billion values",
         run_swapped((MODEL, "model: {source: builtin, path: tiny-gpt, input_shape: [1000, 1000, 1000]}")),
         "model.input_shape: [1000, 1000, 1000] is 1,000,000,000 values"),
    Case("a YAML tag naming Python code", run_text("name: !!python/object/apply:os.system [touch pwned]\n"),
         "could not determine a constructor"),
    Case("number as a section name", run_text(TINY_RECIPE + "1: 2\n"), "1: unknown section"),
    Case("input_shape a string", run_swapped((MODEL, "model: {source: builtin, path: tiny-gpt, input_shape: '1,3'}")),
         "model.input_shape: must be a list"),
    # settings that only the model or data can refute
    Case("pattern matching nothing", run_swapped(("scope: global", "scope: global, include: ['encoder.*']")),
         "match no layer; layer names look like: blocks.0"),
    Case("N:M width not divisible", run_swapped((STEP, "{type: nm_prune, n: 2, m: 48}")),
         "needs input widths divisible by 48"),
    Case("task does not fit the model", run_swapped((MODEL, "model: {source: builtin, path: tiny-gpt, task: classification}")),
         "model.task"),
    Case("LM data for a classifier", run_swapped((MODEL, "model: {source: builtin, path: tiny-bert}")),
         "data.source"),
    Case("max_length over the model's positions", run_swapped(("max_length: 32", "max_length: 4096")),
         "data.max_length 4096 is longer than the model's"),
    Case("training without data", run_swapped((DATA, "data: {source: none}")), "train.epochs > 0 needs data"),
    Case("unknown built-in data", run_swapped(("path: shakespeare", "path: hamlet")), "unknown built-in data 'hamlet'"),
]

if not torch.cuda.is_available():
    CASES.append(Case("cuda without a GPU", _cuda_wanted(), "train.device is cuda"))
