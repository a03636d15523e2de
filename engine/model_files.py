"""What a model file or folder is (its ModelSpec.source), decided without importing torch.

The Model page's picker, `workbench-cli inspect` and the torch-file loader (to tell a user who
gave a TorchScript file as `source: torch`) all ask the same question.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

MANIFEST = "workbench.json"  # engine.models.checkpoint.MANIFEST, without importing torch


def is_torchscript_archive(path: Path) -> bool:
    """True for a torch.jit.save zip: it carries `constants.pkl` and a `code/` folder."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") for n in names) or any("/code/" in n for n in names)


def infer_source(path: str | Path) -> str:
    """The ModelSpec.source for a file or folder; ValueError with a one-line reason otherwise."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"{p} does not exist")
    if p.is_dir():
        if (p / MANIFEST).is_file():
            return "checkpoint"
        if (p / "config.json").is_file():
            return "hf"
        raise ValueError(
            f"{p.name}/ has neither config.json (a Hugging Face model) nor {MANIFEST} "
            "(a workbench checkpoint)"
        )
    suffix = p.suffix.lower()
    if p.name == MANIFEST:
        return "checkpoint"
    if p.name == "config.json":
        return "hf"
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".ts":
        return "torchscript"
    if suffix in (".pt", ".pth", ".bin"):
        return "torchscript" if is_torchscript_archive(p) else "torch"
    raise ValueError(
        f"{p.name}: unknown model file type; use .safetensors, .pt/.pth/.bin, .ts "
        "or a Hugging Face / checkpoint folder"
    )
