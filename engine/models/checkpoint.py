"""Workbench checkpoints: a folder with `workbench.json` plus the weights, loadable back exactly.

Storage by model type:
- built-in tiny models: `model.safetensors` + architecture config in the manifest (weights only,
  so loading can never run code);
- Hugging Face models: `save_pretrained` (+ tokenizer files), so the folder is also a normal HF
  folder; loading rebuilds from config.json and loads the tensors ourselves, because pruned
  tensors no longer match the sizes config.json states;
- other modules: TorchScript when torch.jit.script accepts them (safe to load; the Python
  module is pickled beside it, loaded only with trust, so it can be pruned and trained again),
  else a pickled module. Loading that one runs pickle, which can run any code, so it needs the user's
  `model.trust` for this load. The manifest only says how the folder is stored: it is data
  from a file (a folder can be crafted or replaced), never a permission.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from engine.failures import is_disk_full
from engine.models.builtin import TINY_ARCHITECTURES, build_tiny_module, tiny_loaded
from engine.models.byte_tokenizer import ByteTokenizer
from engine.models.hf import HFLogitsWrapper, build_hf_from_config, quiet_transformers
from engine.models.structure import load_weights, module_attrs
from engine.models.text_adapter import TextAdapter, unwrap_text_adapter
from engine.models.tokenizer_files import load_saved_tokenizer, save_tokenizer, tokenizer_kind
from engine.models.torch_files import load_torch_file, load_torchscript_file
from engine.models.types import LoadedModel, ModelLoadError

MANIFEST = "workbench.json"
FORMAT = "workbench-checkpoint"
VERSION = 1
TORCHSCRIPT_FILE = "model.torchscript.pt"
PICKLE_FILE = "model.pickle.pt"
WEIGHTS_FILE = "model.safetensors"


def _json_safe(extra: dict[str, Any]) -> dict[str, Any]:
    """The entries of extra that survive JSON unchanged."""
    out = {}
    for key, value in extra.items():
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[key] = value
    return out


def _tokenizer_kind(loaded: LoadedModel) -> str | None:
    """How the tokenizer is stored: byte (nothing to write), hf (files), pickle, or None."""
    if isinstance(loaded.tokenizer, ByteTokenizer):
        return "byte"
    return tokenizer_kind(loaded.tokenizer)


def save_model(loaded: LoadedModel, folder: Path) -> Path:
    """Write loaded as a workbench checkpoint folder (tensors saved as they are) and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # a user's text model is stored bare; loading wraps it again (manifest "text_adapter")
    module = unwrap_text_adapter(loaded.module)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": loaded.kind,
        "task": loaded.task,
        "num_labels": loaded.num_labels,
        "label_names": loaded.label_names,
        "input_names": list(loaded.input_names),
        "vocab_size": loaded.vocab_size,
        "max_positions": loaded.max_positions,
        "input_shape": list(loaded.input_shape) if loaded.input_shape else None,
        "input_dtype": loaded.input_dtype,
        "input_range": list(loaded.input_range) if loaded.input_range else None,
        "text_adapter": (
            {"ids_only": loaded.module.ids_only} if isinstance(loaded.module, TextAdapter) else None
        ),
        "description": loaded.description,
        "tokenizer": _tokenizer_kind(loaded),
        "extra": _json_safe(loaded.extra),
    }
    try:
        saved = _save_weights(loaded, folder, manifest)
    except Exception as exc:  # e.g. quantized layers whose packed weights are not plain tensors
        if is_disk_full(exc, folder):  # another storage would not fit either
            raise
        for key in ("storage", "builtin", "module_attrs"):
            manifest.pop(key, None)
        saved = False
    if not saved:
        try:
            _save_generic(module, folder, manifest)
        except Exception as exc:  # pickling fails on lambdas, open files, ...
            if is_disk_full(exc, folder):
                raise
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise ValueError(
                f"cannot save {type(module).__name__} to {folder}: neither its weights, "
                f"TorchScript nor pickle can hold it ({type(exc).__name__}: {first})"
            ) from exc
    save_tokenizer(loaded.tokenizer, folder)
    # the manifest goes last: a folder without one is never mistaken for a finished checkpoint
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def _save_weights(loaded: LoadedModel, folder: Path, manifest: dict[str, Any]) -> bool:
    """Weights-only storage for HF and built-in models; False for any other module."""
    module = loaded.module
    builtin = loaded.extra.get("builtin")
    if isinstance(module, HFLogitsWrapper):
        manifest["storage"] = "hf"
        manifest["module_attrs"] = module_attrs(module.model)
        kwargs: dict[str, Any] = {}
        if "save_original_format" in inspect.signature(module.model.save_pretrained).parameters:
            kwargs["save_original_format"] = False  # keep state_dict key names as they are
        with quiet_transformers():
            module.model.save_pretrained(str(folder), **kwargs)
        return True
    if builtin in TINY_ARCHITECTURES and isinstance(module, TINY_ARCHITECTURES[builtin][0]):
        from safetensors.torch import save_model as save_safetensors

        manifest["storage"] = "builtin"
        manifest["builtin"] = {"name": builtin, "config": dataclasses.asdict(module.config)}
        manifest["module_attrs"] = module_attrs(module)
        save_safetensors(module, str(folder / WEIGHTS_FILE), force_contiguous=True)
        return True
    return False


def _save_generic(module: torch.nn.Module, folder: Path, manifest: dict[str, Any]) -> None:
    """TorchScript when possible (safe to load back); otherwise a flagged pickle."""
    scripted = module if isinstance(module, torch.jit.ScriptModule) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is still our safe format
        if scripted is None:
            try:
                scripted = torch.jit.script(module)
            except Exception:  # scripting fails on much ordinary Python; that is expected
                scripted = None
        if scripted is not None:
            manifest["storage"] = "torchscript"
            torch.jit.save(scripted, str(folder / TORCHSCRIPT_FILE))
            if scripted is not module:
                _keep_python_module(module, folder, manifest)
            return
    manifest["storage"] = "pickle"
    manifest["needs_full_unpickling"] = True
    torch.save(module, str(folder / PICKLE_FILE))


def _keep_python_module(module: torch.nn.Module, folder: Path, manifest: dict[str, Any]) -> None:
    """Also pickle the Python module: TorchScript can be measured and exported but not pruned
    or trained, so a trusted load of this variant takes the pickle to optimize it further."""
    try:
        torch.save(module, str(folder / PICKLE_FILE))
    except Exception as exc:  # unpicklable: the TorchScript alone serves
        if is_disk_full(exc, folder):
            raise
        (folder / PICKLE_FILE).unlink(missing_ok=True)
        return
    manifest["python_module"] = PICKLE_FILE


def _torchscript_or_python(folder: Path, manifest: dict[str, Any], trust: bool) -> torch.nn.Module:
    """The TorchScript module, or with the user's trust the Python module saved beside it
    (when its class is importable: else the TorchScript, which still measures and exports)."""
    if trust and manifest.get("python_module") and (folder / PICKLE_FILE).is_file():
        try:
            module = load_torch_file(folder / PICKLE_FILE, trust=True)
        except ModelLoadError:  # e.g. its class is not importable here (model.python_path)
            module = None
        if isinstance(module, torch.nn.Module):
            return module
    return load_torchscript_file(folder / TORCHSCRIPT_FILE)


def read_manifest(path: Path) -> tuple[Path, dict[str, Any]]:
    """(folder, manifest) of a checkpoint folder or of its workbench.json."""
    folder = path.parent if path.name == MANIFEST else path
    file = folder / MANIFEST
    if not file.is_file():
        raise ModelLoadError(
            f"{folder} is not a workbench checkpoint (no {MANIFEST}); use model.source hf, "
            "torch, safetensors or torchscript for other model files"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{file} is damaged ({exc}); save the model again") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelLoadError(f"{file} is not a workbench checkpoint manifest")
    return folder, manifest


def _hf_state(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors save_pretrained wrote: one file or the shards its index lists."""
    from safetensors.torch import load_file

    single = folder / WEIGHTS_FILE
    if single.is_file():
        return load_file(str(single))
    index = folder / f"{WEIGHTS_FILE}.index.json"
    if not index.is_file():
        raise ModelLoadError(f"checkpoint {folder} has no {WEIGHTS_FILE}; save the model again")
    shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        state.update(load_file(str(folder / shard)))
    return state


def _load_module(folder: Path, manifest: dict[str, Any], trust: bool) -> LoadedModel:
    """Rebuild the module the manifest's storage describes (a pickle only when trusted)."""
    storage = manifest.get("storage")
    attrs = manifest.get("module_attrs")
    where = f"checkpoint {folder}"
    if storage == "builtin":
        from safetensors.torch import load_file

        spec = manifest["builtin"]
        module = build_tiny_module(spec["name"], spec.get("config"))
        load_weights(module, load_file(str(folder / WEIGHTS_FILE)), where, attrs)
        return tiny_loaded(spec["name"], module, kind="checkpoint")
    if storage == "hf":
        built = build_hf_from_config(
            folder, manifest["task"], manifest.get("num_labels"), "checkpoint", folder.name
        )
        load_weights(built.module.model, _hf_state(folder), where, attrs)
        return built
    if storage == "torchscript":
        module = _torchscript_or_python(folder, manifest, trust)
    elif storage == "pickle":
        if not trust:
            raise ModelLoadError(
                f"{folder / PICKLE_FILE} stores a whole pickled module; loading it needs full "
                "unpickling, which can run arbitrary code. Set model.trust: true (GUI: Trust "
                "this file) only if you made this checkpoint yourself",
                "model.trust",
            )
        module = load_torch_file(folder / PICKLE_FILE, trust=True)
        if not isinstance(module, torch.nn.Module):
            raise ModelLoadError(f"{folder / PICKLE_FILE} holds a {type(module).__name__}, "
                                 "not a model; save the model again")
    else:
        raise ModelLoadError(f"{folder / MANIFEST} names an unknown storage {storage!r}")
    return LoadedModel(module=module.eval(), task=manifest["task"], input_names=(), tokenizer=None)


def load_checkpoint(path: Path, trust: bool = False) -> LoadedModel:
    """Load a folder written by save_model; logits match the saved model exactly.

    `trust` is the user's own permission to unpickle (model.trust); nothing in the folder
    can grant it.
    """
    folder, manifest = read_manifest(Path(path))
    try:
        loaded = _load_module(folder, manifest, trust)
    except ModelLoadError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"checkpoint {folder} cannot be loaded: {first}") from exc
    loaded.kind = "checkpoint"
    loaded.task = manifest["task"]
    loaded.input_names = tuple(manifest["input_names"])
    loaded.num_labels = manifest.get("num_labels")
    loaded.label_names = manifest.get("label_names")
    loaded.vocab_size = manifest.get("vocab_size")
    loaded.max_positions = int(manifest.get("max_positions") or 512)
    shape = manifest.get("input_shape")
    loaded.input_shape = tuple(shape) if shape else None
    loaded.input_dtype = manifest.get("input_dtype") or "float32"
    span = manifest.get("input_range")
    loaded.input_range = (int(span[0]), int(span[1])) if span else None
    adapter = manifest.get("text_adapter")
    if isinstance(adapter, dict) and not isinstance(loaded.module, TextAdapter):
        loaded.module = TextAdapter(loaded.module, bool(adapter.get("ids_only"))).eval()
    loaded.description = manifest.get("description") or loaded.description
    if manifest.get("tokenizer") == "byte":
        loaded.tokenizer = ByteTokenizer()
    elif loaded.tokenizer is None:  # generic storage (e.g. a quantized HF or a custom model)
        loaded.tokenizer = load_saved_tokenizer(folder, manifest.get("tokenizer"), trust)
    loaded.extra = {
        **manifest.get("extra", {}),
        "source_kind": manifest.get("kind"),
        "checkpoint": str(folder),
    }
    return loaded
