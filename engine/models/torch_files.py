"""Reading torch.save / TorchScript files without running code from them, with one-line errors.

torch.load(weights_only=True) only rebuilds tensors and plain containers. When it refuses a
file we find out why without unpickling it: a file that names Python globals (a pickled
nn.Module, or a malicious `__reduce__`) needs full unpickling, which can run arbitrary code,
so it is refused unless the user trusts it; anything else is damaged or not a torch file.
"""

from __future__ import annotations

import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.models.types import ModelLoadError


def require_file(path: Path) -> None:
    """Raise when path is missing, a folder, or empty."""
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a folder; this model source needs a file")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"model file {path} is empty (0 bytes); re-save or re-copy it")


def _unreadable(path: Path) -> ModelLoadError:
    """The error for a damaged or non-torch file (the low-level reason helps nobody)."""
    return ModelLoadError(
        f"{path} is not a readable PyTorch checkpoint: it is truncated or not a torch.save "
        "file; re-save or re-copy it"
    )


def pickle_globals(path: Path) -> list[str] | None:
    """Python globals a checkpoint's pickle refers to, found without executing it.

    None when the file is no valid pickle at all (damaged or not a torch file).
    """
    if zipfile.is_zipfile(path):
        try:
            return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        except Exception:  # any failure here means the archive is damaged
            return None
    names: list[str] = []
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            # legacy torch.save files are several pickles in a row, then raw tensor bytes
            while f.tell() < size:
                names += _globals_in_one_pickle(f)
    except Exception:  # pickletools raises ValueError and others on garbage or raw bytes
        return names or None
    return names


def _globals_in_one_pickle(f: Any) -> list[str]:
    """Globals named by the next pickle in an open file (reads up to its STOP)."""
    names: list[str] = []
    strings: list[str] = []
    for op, arg, _ in pickletools.genops(f):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(str(arg))
        if op.name in ("GLOBAL", "INST"):
            names.append(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]))
        elif op.name == "OBJ":
            names.append("<object>")
        if op.name == "STOP":
            break
    return names


def _not_importable(path: Path, exc: Exception) -> ModelLoadError:
    """A trusted pickle whose class cannot be imported: how to make it importable."""
    text = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else type(exc).__name__
    if "__main__" in text:  # pickled from a script run directly: the class has no module
        return ModelLoadError(
            f"{path} refers to a class defined in the script that saved it ({text}); move the "
            "class into a .py file, import it from there, save again and set model.python_path "
            "to that file's folder",
            "model.python_path",
        )
    return ModelLoadError(
        f"{path} refers to code that cannot be imported here ({text}); set model.python_path "
        "to the folder holding the model class's .py file",
        "model.python_path",
    )


def load_torch_file(path: Path, trust: bool) -> Any:
    """torch.load the file, weights-only unless trusted; refuse code-running pickles."""
    require_file(path)
    if trust:
        try:
            return torch.load(str(path), map_location="cpu", weights_only=False)
        except (ModuleNotFoundError, AttributeError) as exc:
            raise _not_importable(path, exc) from exc
        except Exception as exc:  # whatever else unpickling raised, the file is unusable
            raise _unreadable(path) from exc
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols while we only probe the file
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = pickle_globals(path)
        if found:
            shown = ", ".join(found[:3]) + (" ..." if len(found) > 3 else "")
            raise ModelLoadError(
                f"{path} needs full unpickling, which can run arbitrary code (it refers to "
                f"{shown}); re-save it as a state_dict or set model.trust: true if you made "
                "this file yourself",
                "model.trust",
            ) from exc
        raise _unreadable(path) from exc
    except Exception as exc:  # zip/EOF/key errors all mean a damaged or foreign file
        raise _unreadable(path) from exc


def load_torchscript_file(path: Path) -> torch.jit.ScriptModule:
    """torch.jit.load (safe: TorchScript holds code as TorchScript, not pickled callables)."""
    require_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # still the way to read them
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # RuntimeError/ValueError from the C++ reader
        # the C++ reader's first sentence says what failed; the rest is advice for its developers
        text = str(exc).strip()
        first = text.splitlines()[0].split(". ")[0][:120] if text else type(exc).__name__
        raise ModelLoadError(
            f"{path} is not a readable TorchScript file (saved with torch.jit.save): {first}; "
            "for a torch.save file use model.source: torch"
        ) from exc


def as_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    """The state_dict inside a loaded object: a bare one or a common training checkpoint."""
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if (
                isinstance(inner, dict)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                return {str(k): v for k, v in inner.items()}
    return None
