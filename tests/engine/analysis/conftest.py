"""A tiny Llama exported to ONNX with its LoadedModel, for the profile and sweep tests."""

from __future__ import annotations

from pathlib import Path

from engine.models.types import TEXT_INPUTS, LoadedModel
from tests.engine.quantize.tiny_onnx import export_text, tiny_llama

VOCAB = 256


def exported_tiny_llama(folder: Path, max_positions: int) -> tuple[LoadedModel, Path]:
    """(the tiny Llama as a causal-LM LoadedModel, its ONNX file in `folder`)."""
    module = tiny_llama(VOCAB)
    path = export_text(module, folder / "llama.onnx", VOCAB)
    loaded = LoadedModel(module, "causal-lm", TEXT_INPUTS, None, vocab_size=VOCAB,
                         max_positions=max_positions)  # fmt: skip
    return loaded, path
