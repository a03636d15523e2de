"""Half-precision weights (bf16/fp16) become float32 on load, unless `model.dtype: keep`.

Training in bf16 on a CPU loses most of each update, and ONNX export trips over half-precision
buffers, so a model stored in half precision is converted once, at load, and the Model page and
the card say so ("stored as bfloat16, loaded as float32"). `keep` leaves the stored dtype.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.models.types import LoadedModel

HALF = (torch.float16, torch.bfloat16)
# the dtype names of a safetensors header that are half precision
_SAFETENSORS_HALF = {"F16": torch.float16, "BF16": torch.bfloat16}
_MAX_HEADER = 100 << 20  # a header is JSON of names and shapes: 100 MB is beyond any real one


def dtype_name(dtype: torch.dtype) -> str:
    """'bfloat16' for torch.bfloat16."""
    return str(dtype).removeprefix("torch.")


def dominant_float_dtype(module: nn.Module) -> torch.dtype | None:
    """The floating dtype holding the most values among parameters and buffers (None: none)."""
    counts: dict[torch.dtype, int] = {}
    for t in [*module.parameters(), *module.buffers()]:
        if t.is_floating_point():
            counts[t.dtype] = counts.get(t.dtype, 0) + t.numel()
    return max(counts, key=counts.__getitem__) if counts else None


def safetensors_dtype(path: Path) -> torch.dtype | None:
    """The half dtype most values of a .safetensors file are stored in (None: not half).

    Reads only the JSON header (8-byte length, then JSON), never the tensors.
    """
    try:
        with Path(path).open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > _MAX_HEADER:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error):
        return None
    counts: dict[str, int] = {}
    for key, info in header.items():
        if key == "__metadata__" or not isinstance(info, dict):
            continue
        n = 1
        for dim in info.get("shape") or []:
            n *= int(dim)
        counts[str(info.get("dtype"))] = counts.get(str(info.get("dtype")), 0) + n
    top = max(counts, key=counts.__getitem__) if counts else None
    return _SAFETENSORS_HALF.get(top or "")


def folder_stored_dtype(folder: Path, config: Any) -> torch.dtype | None:
    """The half dtype a Hugging Face folder's weights are stored in (None: not half).

    The weights' own header wins over config.json's torch_dtype, which is sometimes stale.
    """
    files = sorted(Path(folder).glob("*.safetensors"))
    if files:
        return safetensors_dtype(files[0])
    declared = getattr(config, "dtype", None)  # transformers >= 4.56 (torch_dtype: deprecated)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    return declared if declared in HALF else None


def widen_half(module: nn.Module, spec: Any) -> dict[str, str]:
    """Convert a bare half-precision module to float32 now (unless model.dtype: keep).

    For loaders that run the module before load_model's as_float32 (a generic module's
    example forward feeds float32). Returns {"stored_dtype": name} for loaded.extra, or {}.
    """
    held = dominant_float_dtype(module)
    if held not in HALF or getattr(spec, "dtype", "float32") == "keep":
        return {}
    module.to(torch.float32)
    return {"stored_dtype": dtype_name(held)}


def _stored_dtype(loaded: LoadedModel, spec: Any) -> torch.dtype | None:
    """What the model was stored in: a loader's note, the module itself, or the weights file."""
    noted = loaded.extra.get("stored_dtype")
    if isinstance(noted, str) and isinstance(getattr(torch, noted, None), torch.dtype):
        return getattr(torch, noted)
    held = dominant_float_dtype(loaded.module)
    if held in HALF:
        return held
    path = Path(str(getattr(spec, "path", "") or "")).expanduser()
    if getattr(spec, "source", "") == "safetensors" and path.is_file():
        return safetensors_dtype(path)
    return None


def as_float32(loaded: LoadedModel, spec: Any) -> LoadedModel:
    """Convert a half-precision model's floating parameters and buffers to float32.

    With spec.dtype == "keep" the stored dtype is kept (a loader that already widened the
    weights, as transformers does for us, gets them narrowed back: lossless, they came from
    that dtype). The original dtype is recorded in loaded.extra["stored_dtype"] and the
    description. Models not stored in half precision are returned untouched.
    """
    stored = _stored_dtype(loaded, spec)
    if stored not in HALF:
        return loaded
    keep = getattr(spec, "dtype", "float32") == "keep"
    target = stored if keep else torch.float32
    if dominant_float_dtype(loaded.module) != target:
        loaded.module.to(target)  # floating parameters and buffers; integer buffers stay
    inner = getattr(loaded.module, "model", None)
    config = getattr(inner, "config", None)
    if config is not None:  # a later save_pretrained records what the weights now are
        config.dtype = target
    loaded.extra = {**loaded.extra, "stored_dtype": dtype_name(stored)}
    note = (
        f"stored as {dtype_name(stored)}, kept as {dtype_name(stored)} (model.dtype: keep)"
        if keep
        else f"stored as {dtype_name(stored)}, loaded as float32"
    )
    if note not in loaded.description:  # a variant loads through load_model twice
        loaded.description = f"{loaded.description}; {note}" if loaded.description else note
    return loaded
