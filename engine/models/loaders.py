"""load_model(spec): one loader per model source kind, each failing with one actionable line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.model_files import is_torchscript_archive
from engine.models.builtin import BUILTIN_MODELS, TINY_ARCHITECTURES, load_builtin, tiny_loaded
from engine.models.hf import HFLogitsWrapper, build_hf_from_config, load_hf_folder
from engine.models.precision_load import widen_half
from engine.models.structure import load_weights
from engine.models.torch_files import (
    as_state_dict,
    load_torch_file,
    load_torchscript_file,
    require_file,
)
from engine.models.types import GENERIC_INPUTS, TEXT_INPUTS, LoadedModel, ModelLoadError
from engine.models.user_modules import (
    apply_tokenizer,
    custom_checkpoint_error,
    matches_builtin,
    text_module,
    use_python_path,
)
from engine.recipe import ModelSpec

Loader = Callable[..., LoadedModel]  # (spec) or, for WORKSPACE_SOURCES, (spec, workspace)


def _path(spec: ModelSpec) -> Path:
    """spec.path as a Path, with a not-found error."""
    path = Path(spec.path.strip()).expanduser()
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    return path


def load_into(
    loaded: LoadedModel, state: dict[str, torch.Tensor], path: Path, kind: str
) -> LoadedModel:
    """Load a state_dict into a built architecture and describe the result as from path."""
    target = loaded.module
    if isinstance(target, HFLogitsWrapper):
        # the keys may be the wrapper's ("model.bert...") or the bare HF model's ("bert...")
        outer = set(target.state_dict()) & set(state)
        inner = set(target.model.state_dict()) & set(state)
        if len(inner) > len(outer):
            target = target.model
    load_weights(target, state, str(path))
    name = loaded.extra.get("builtin")
    if name in TINY_ARCHITECTURES:  # sizes (e.g. num_labels) now come from the weights
        loaded = tiny_loaded(name, loaded.module)
    loaded.kind = kind
    loaded.description = f"{loaded.description} (weights from {path.name})"
    loaded.extra = {**loaded.extra, "path": str(path)}
    return loaded


def _architecture(spec: ModelSpec, path: Path, what: str, hint: str = "") -> LoadedModel:
    """The built-in named by spec.architecture, with a fix-it error when it is unset."""
    if not spec.architecture:
        raise ModelLoadError(
            f"{path} {what}; set model.architecture to one of {', '.join(BUILTIN_MODELS)} "
            f"to load the weights into{hint}",
            "model.architecture",
        )
    if spec.architecture not in BUILTIN_MODELS:
        raise ModelLoadError(
            f"unknown architecture {spec.architecture!r}; choose one of {', '.join(BUILTIN_MODELS)}",
            "model.architecture",
        )
    return load_builtin(spec.architecture, spec.num_labels)


def generic_loaded(module: nn.Module, spec: ModelSpec, kind: str, name: str) -> LoadedModel:
    """LoadedModel for a bare module: generic unless model.task says it is a text model."""
    module.eval()
    stored = widen_half(module, spec)  # before check_generic_input's float32 example forward
    task = "generic" if spec.task == "auto" else spec.task
    n_params = sum(p.numel() for p in module.parameters())
    description = f"{name}: {type(module).__name__} ({task}), {n_params / 1e6:.2f}M params"
    sizes: dict[str, int | None] = {}
    if task != "generic":  # called as (input_ids, attention_mask): wrap an ids-only forward
        module, sizes = text_module(module, spec, task)
    loaded = LoadedModel(
        module=module,
        task=task,
        input_names=GENERIC_INPUTS if task == "generic" else TEXT_INPUTS,
        tokenizer=None,
        num_labels=sizes.get("classes") or spec.num_labels if task == "classification" else None,
        vocab_size=sizes.get("vocab"),
        max_positions=sizes.get("positions") or 512,
        input_shape=tuple(spec.input_shape) if spec.input_shape else None,
        input_dtype=spec.input_dtype,
        input_range=(spec.input_range[0], spec.input_range[1]) if spec.input_range else None,
        kind=kind,
        description=description,
        extra={"path": spec.path, **stored},
    )
    if task == "generic":
        check_generic_input(loaded)
    return loaded


def check_generic_input(loaded: LoadedModel) -> None:
    """Run one forward on the example input so a wrong input_shape fails now, clearly."""
    inputs = loaded.example_inputs()  # raises when input_shape is unset
    try:
        with torch.no_grad():
            loaded.module(*inputs)
    except Exception as exc:  # any failure of the user's forward means the shape does not fit
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        ids_hint = (
            "; for token ids set model.input_dtype: int64 and model.input_range: [0, vocab size]"
            if loaded.input_dtype == "float32" and re.search(r"indices|Long|[Ee]mbedding", str(exc))
            else ""
        )
        raise ModelLoadError(
            f"model.input_shape {list(loaded.input_shape or ())} does not fit the model "
            f"({first}); set the shape the model expects, e.g. [1, 3, 32, 32]{ids_hint}",
            "model.input_shape",
        ) from exc


def load_builtin_spec(spec: ModelSpec) -> LoadedModel:
    """`builtin`: a demo model by name."""
    return load_builtin(spec.path, spec.num_labels)


def load_hf_spec(spec: ModelSpec) -> LoadedModel:
    """`hf`: a Hugging Face folder (a file inside one is taken to mean its folder)."""
    path = _path(spec)
    folder = path if path.is_dir() else path.parent
    return load_hf_folder(folder, spec.task, spec.num_labels)


def load_safetensors_spec(spec: ModelSpec) -> LoadedModel:
    """`safetensors`: weights for a built-in architecture or for the HF folder beside them."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _path(spec)
    require_file(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path} is not a readable .safetensors file ({str(exc).strip()[:120]}); re-save it"
        ) from exc
    if spec.architecture:
        return load_into(_architecture(spec, path, ""), state, path, "safetensors")
    folder = path.parent
    if (folder / "config.json").is_file():
        if path.name == "model.safetensors":  # the folder's own weights: a plain HF load
            return load_hf_folder(folder, spec.task, spec.num_labels)
        built = build_hf_from_config(folder, spec.task, spec.num_labels, "safetensors", path.name)
        return load_into(built, state, path, "safetensors")
    return _architecture(
        spec,
        path,
        "is a .safetensors file, which holds only weights",
        ", or point at the Hugging Face folder",
    )


def load_torch_spec(spec: ModelSpec) -> LoadedModel:
    """`torch`: a torch.save file: a state_dict (needs architecture) or, if trusted, a module."""
    path = _path(spec)
    if path.is_file() and is_torchscript_archive(path):
        raise ModelLoadError(
            f"{path} is a TorchScript file (saved with torch.jit.save); use model.source: "
            "torchscript",
            "model.source",
        )
    use_python_path(spec)
    obj = load_torch_file(path, spec.trust)
    if isinstance(obj, nn.Module):
        return generic_loaded(obj, spec, "torch", path.name)
    state = as_state_dict(obj)
    if state is None:
        raise ModelLoadError(
            f"{path} holds a {type(obj).__name__}, not a state_dict or an nn.Module; "
            "save the model's state_dict() with torch.save"
        )
    if not spec.architecture and not matches_builtin(state):
        raise custom_checkpoint_error(path, obj)
    built = _architecture(spec, path, "holds only weights (a state_dict)")
    return load_into(built, state, path, "torch")


def load_torchscript_spec(spec: ModelSpec) -> LoadedModel:
    """`torchscript`: a torch.jit.save file; generic unless model.task says otherwise."""
    path = _path(spec)
    return generic_loaded(load_torchscript_file(path), spec, "torchscript", path.name)


def load_checkpoint_spec(spec: ModelSpec) -> LoadedModel:
    """`checkpoint`: a folder written by save_model."""
    from engine.models.checkpoint import load_checkpoint

    use_python_path(spec)  # a pickled custom module needs its class importable again
    return load_checkpoint(_path(spec), trust=spec.trust)


def load_variant_spec(spec: ModelSpec, workspace: Any) -> LoadedModel:
    """`variant`: a model saved in the workspace, by variant name or run id."""
    from engine.models.variant_source import load_variant

    return load_variant(spec, workspace)


MODEL_LOADERS: dict[str, Loader] = {
    "builtin": load_builtin_spec,
    "hf": load_hf_spec,
    "safetensors": load_safetensors_spec,
    "torch": load_torch_spec,
    "torchscript": load_torchscript_spec,
    "checkpoint": load_checkpoint_spec,
    "variant": load_variant_spec,
}
WORKSPACE_SOURCES: set[str] = {"variant"}  # their loaders are called (spec, workspace)


def register_loader(kind: str, loader: Loader, needs_workspace: bool = False) -> None:
    """Add or replace the loader for a source kind; needs_workspace: called (spec, workspace)."""
    MODEL_LOADERS[kind] = loader
    if needs_workspace:
        WORKSPACE_SOURCES.add(kind)
    else:
        WORKSPACE_SOURCES.discard(kind)


def load_model(spec: ModelSpec, workspace: Any = None) -> LoadedModel:
    """Load the model a ModelSpec describes; ModelLoadError (a ConfigError) on any bad input.

    `workspace` (an engine.store.Workspace) is needed only for `source: variant`.
    """
    loader = MODEL_LOADERS.get(spec.source)
    if loader is None:
        raise ModelLoadError(
            f"no loader for model source {spec.source!r} here; known: {', '.join(MODEL_LOADERS)}",
            "model.source",
        )
    loaded = loader(spec, workspace) if spec.source in WORKSPACE_SOURCES else loader(spec)
    if spec.task not in ("auto", loaded.task):
        raise ModelLoadError(
            f"model.task is {spec.task} but {spec.path} is a {loaded.task} model; "
            f"set model.task to {loaded.task} or auto",
            "model.task",
        )
    from engine.models.precision_load import as_float32  # bf16/fp16 -> fp32 unless dtype: keep

    return apply_tokenizer(as_float32(loaded, spec), spec)
