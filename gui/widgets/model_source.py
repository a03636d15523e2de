"""What a model path on disk is: its ModelSpec.source, and the input-shape field parsed.

Pure functions (no Qt, no torch) used by the Model page's picker.
"""

from __future__ import annotations

from engine.model_files import MANIFEST, infer_source, is_torchscript_archive  # noqa: F401 (re-exported)

FILE_FILTER = "Model files (*.safetensors *.pt *.pth *.bin *.ts);;All files (*)"


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
