"""What makes two baselines share their evaluation, their ONNX export, or everything.

A baseline is the unmodified model evaluated (metrics on the recipe's data) and exported
(model.onnx). The two depend on different settings: the export only on the model and the
export settings, the evaluation only on the model, the data and how it is evaluated. So a
new data setting re-evaluates but keeps the export, and a new opset re-exports but keeps
the metrics; each baseline card records its three keys so a later one can find them.

The model's identity is its spec (trust aside) plus a fingerprint of the files it names
(name, size, modification time): a model file replaced in place is a new model, while
an untouched multi-GB folder is recognised without reading its weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from engine.recipe import ModelSpec, Recipe

MAX_FINGERPRINT_FILES = 10_000  # a folder past this many files is fingerprinted by its first ones


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """Hash of (relative name, size, mtime) of a file or every file under a folder; "" if absent."""
    root = Path(path).expanduser()
    if not root.exists():
        return ""  # a built-in model name: its spec alone names it
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files[:MAX_FINGERPRINT_FILES]:
        st = f.stat()
        name = f.name if f == root else f.relative_to(root).as_posix()
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def model_identity(spec: ModelSpec) -> dict[str, Any]:
    """The spec (trust aside) and a fingerprint of the model files and tokenizer it names."""
    ident: dict[str, Any] = dataclasses.asdict(dataclasses.replace(spec, trust=False))
    ident["files"] = file_fingerprint(spec.path)
    if spec.tokenizer:
        ident["tokenizer_files"] = file_fingerprint(spec.tokenizer)
    return ident


def _key(parts: dict[str, Any]) -> str:
    return json.dumps(parts, sort_keys=True)


@dataclasses.dataclass(frozen=True)
class BaselineKeys:
    full: str  # everything: a baseline with this key is reused whole
    evaluation: str  # model + data + evaluation settings: its metrics can be reused
    export: str  # model + export settings: its ONNX files can be reused


def baseline_keys(spec: ModelSpec, recipe: Recipe) -> BaselineKeys:
    """The three keys of the baseline `recipe` would build for the resolved model `spec`."""
    model = model_identity(spec)
    data = dataclasses.asdict(recipe.data)
    # what evaluate() reads besides the data: its batch size (padding, last partial batch)
    evaluation = {"batch_size": recipe.train.batch_size}
    export = dataclasses.asdict(recipe.export)
    return BaselineKeys(
        full=_key({"model": model, "data": data, "evaluation": evaluation, "export": export}),
        evaluation=_key({"model": model, "data": data, "evaluation": evaluation}),
        export=_key({"model": model, "export": export}),
    )
