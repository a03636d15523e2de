"""Models: load from any supported source, save as workbench checkpoints, summarize anatomy."""

from engine.models.builtin import BUILTIN_MODELS, list_builtin_models
from engine.models.checkpoint import load_checkpoint, save_model
from engine.models.loaders import MODEL_LOADERS, load_model, register_loader
from engine.models.summary import LayerRow, ModelSummary, summarize
from engine.models.types import LoadedModel, ModelLoadError, Tokenizer

__all__ = [
    "BUILTIN_MODELS",
    "MODEL_LOADERS",
    "LayerRow",
    "LoadedModel",
    "ModelLoadError",
    "ModelSummary",
    "Tokenizer",
    "list_builtin_models",
    "load_checkpoint",
    "load_model",
    "register_loader",
    "save_model",
    "summarize",
]
