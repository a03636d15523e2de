"""What a model path on disk is: its ModelSpec.source, and the input-shape field parsed.

Pure functions (no Qt, no torch) used by the Model page's picker.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

MANIFEST = "workbench.json"  # engine.models.checkpoint.MANIFEST, without importing torch at start-up

FILE_FILTER = "Model files (*.safetensors *.pt *.pth *.bin *.ts);;All files (*)"


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


def parse_shape(text: str) -> tuple[int, ...] | None:
    """'1, 3, 32, 32' or '[1,3,32,32]' -> (1, 3, 32, 32); '' -> None; ValueError otherwise."""
    cleaned = text.strip().strip("[]()").replace("x", ",").replace("×", ",")
    if not cleaned:
        return None
    try:
        dims = tuple(int(d) for d in cleaned.replace(" ", ",").split(",") if d)
    except ValueError:
        raise ValueError(f"input shape {text!r} is not a list of whole numbers, e.g. 1, 3, 32, 32") from None
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"input shape {text!r} needs positive sizes, e.g. 1, 3, 32, 32")
    return dims
