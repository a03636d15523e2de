"""Models users bring as their own Python classes: import paths, text wrapping, tokenizers.

- model.python_path puts the folder holding a pickled module's class on sys.path (only for
  trusted loads: importing runs that folder's code);
- a training checkpoint (weights + config for a class the workbench does not have) gets a
  message saying how to save it so it can be loaded;
- a text model whose forward takes input_ids only, or returns more than logits, is wrapped
  (text_adapter.TextAdapter);
- model.tokenizer replaces or supplies the tokenizer of any text model.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.models.text_adapter import TextAdapter, logits_of, takes_ids_only
from engine.models.types import LoadedModel, ModelLoadError
from engine.recipe import ModelSpec

CONFIG_KEYS = ("config", "model_config", "cfg", "args", "model_args", "hparams",
               "hyper_parameters", "hyperparameters", "params")
SAVE_HOW = (  # kept short: a run's failure line holds 300 characters
    "save the model itself (torch.save(model)) and set model.trust and model.python_path (its "
    "class's folder), or save it with torch.jit.save and use model.source: torchscript"
)


def use_python_path(spec: ModelSpec) -> None:
    """Check model.python_path; put it first on sys.path when the load is trusted."""
    if not spec.python_path:
        return
    folder = Path(spec.python_path.strip()).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(
            f"python_path {folder} is not an existing folder; give the folder that holds the "
            "model class's .py file",
            "model.python_path",
        )
    if spec.trust and str(folder.resolve()) not in sys.path:
        sys.path.insert(0, str(folder.resolve()))


def _pattern(key: str) -> str:
    return re.sub(r"\.\d+\.", ".#.", key)


def matches_builtin(state: dict[str, torch.Tensor]) -> bool:
    """True when the keys look like one of the built-in architectures' (so it could fit)."""
    from engine.models.builtin import TINY_ARCHITECTURES, build_tiny_module

    keys = {_pattern(k) for k in state}
    if any(k.startswith(("bert.", "model.bert.")) for k in keys):  # minilm-bbc's layout
        return True
    for name in TINY_ARCHITECTURES:
        known = {_pattern(k) for k in build_tiny_module(name).state_dict()}
        if len(keys & known) >= max(1, len(keys) // 2):
            return True
    return False


def custom_checkpoint_error(path: Path, obj: Any) -> ModelLoadError:
    """What a dict of weights (and maybe a config) for an unknown class is, and what to do."""
    config = next((k for k in CONFIG_KEYS if isinstance(obj, dict) and k in obj), None)
    what = (
        f"a training checkpoint (weights + {config!r}) for a class that is not built in"
        if config
        else "weights (a state_dict) for a class that is not built in"
    )
    return ModelLoadError(f"{path} holds {what}; {SAVE_HOW}", "model.path")


def _embeddings(module: nn.Module) -> list[tuple[str, int]]:
    """(name, rows) of every embedding table (TorchScript keeps the class as original_name)."""
    out = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Embedding):
            out.append((name, m.num_embeddings))
        elif getattr(m, "original_name", "") == "Embedding" and hasattr(m, "weight"):
            out.append((name, int(m.weight.shape[0])))
    return out


def _sizes(module: nn.Module, spec: ModelSpec) -> tuple[int | None, int | None]:
    """(vocabulary, positions): the first token table's rows, a position table's rows."""
    tables = _embeddings(module)
    positional = [rows for name, rows in tables if re.search(r"pos|wpe", name.split(".")[-1])]
    tokens = [rows for name, rows in tables if not re.search(r"pos|wpe", name.split(".")[-1])]
    vocab = spec.input_range[1] if spec.input_range else (tokens[0] if tokens else None)
    return vocab, (positional[0] if positional else None)


def text_module(
    module: nn.Module, spec: ModelSpec, task: str
) -> tuple[nn.Module, dict[str, int | None]]:
    """(module callable as (ids, mask) -> logits, its vocab/positions/classes where known).

    One forward on example ids checks the model now, so a wrong task fails here, clearly.
    """
    vocab, positions = _sizes(module, spec)
    ids_only = takes_ids_only(module)
    ids = torch.randint(0, vocab or 2, (1, 8), generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = module(ids) if ids_only else module(ids, torch.ones_like(ids))
    except Exception as exc:  # any failure of the user's forward
        first = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"the model's forward fails on token ids ({first}); a {task} model must take "
            "input_ids [batch, seq] (and optionally attention_mask) and return logits; for "
            "other inputs set model.task: generic",
            "model.task",
        ) from exc
    logits = logits_of(out)
    _check_logits(logits, out, task)
    classes = int(logits.shape[-1]) if task == "classification" else None
    if classes is not None and spec.num_labels not in (None, classes):
        raise ModelLoadError(
            f"the model returns {classes} class scores but model.num_labels is "
            f"{spec.num_labels}; a custom model keeps its own head: remove model.num_labels",
            "model.num_labels",
        )
    if ids_only or not isinstance(out, torch.Tensor):
        module = TextAdapter(module, ids_only).eval()
    if task == "causal-lm" and vocab is None:  # no embedding found: the head's width
        vocab = int(logits.shape[-1])
    return module, {"vocab": vocab, "positions": positions, "classes": classes}


def _check_logits(logits: Any, out: Any, task: str) -> None:
    """Logits shaped for the task: [1, 8, vocab] for causal-lm, [1, classes] for classification."""
    want = (3, "[batch, seq, vocab]") if task == "causal-lm" else (2, "[batch, classes]")
    if logits is None:
        problem = f"returns a {type(out).__name__} holding no tensor"
    elif logits.dim() != want[0] or (task == "causal-lm" and logits.shape[1] != 8):
        problem = f"returns a tensor of shape {list(logits.shape)} for ids of shape [1, 8]"
    else:
        return
    raise ModelLoadError(
        f"the model {problem}; a {task} model must return logits {want[1]} (a tensor, or a "
        "tuple/dict/output whose logits come first)",
        "model.task",
    )


def apply_tokenizer(loaded: LoadedModel, spec: ModelSpec) -> LoadedModel:
    """model.tokenizer, when set, becomes the text model's tokenizer (over its own)."""
    if not spec.tokenizer or not spec.tokenizer.strip():
        return loaded
    from engine.models.tokenizer_files import load_user_tokenizer

    if not loaded.is_text:
        raise ModelLoadError(
            f"model.tokenizer is for text models, but {spec.path} is a {loaded.task} model; "
            "set model.task to causal-lm or classification, or remove model.tokenizer",
            "model.tokenizer",
        )
    tok = load_user_tokenizer(spec.tokenizer, spec.trust)
    rows = loaded.vocab_size if loaded.kind in ("torch", "torchscript") else None
    if rows is not None and tok.vocab_size > rows:
        raise ModelLoadError(
            f"tokenizer {spec.tokenizer} has {tok.vocab_size} tokens but the model's embedding "
            f"has {rows} rows; give the tokenizer the model was trained with",
            "model.tokenizer",
        )
    loaded.tokenizer = tok
    return loaded
