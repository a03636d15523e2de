"""Hugging Face models: a positional-forward wrapper, a tokenizer adapter and the folder loader.

transformers is imported inside functions: it takes seconds to import and most engine work
(built-in tiny models, data, summaries) never needs it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.models.types import TEXT_INPUTS, LoadedModel, ModelLoadError

ENCODER_TYPES = ("bert", "roberta", "distilbert", "albert", "electra", "deberta", "deberta-v2",
                 "xlm-roberta", "mpnet", "camembert")
HF_INIT_SEED = 0  # a new classification head is random; a fixed seed makes runs repeatable


class HFLogitsWrapper(nn.Module):
    """forward(input_ids, attention_mask) -> logits, so ONNX export and the trainer see tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of the inner transformers model."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


class HFTokenizer:
    """Adapts a transformers tokenizer to the engine's Tokenizer protocol."""

    def __init__(self, tok: Any):
        self.tok = tok
        if tok.pad_token_id is None:
            # causal-LM tokenizers often lack a pad token; padding is masked out, so any id works
            fallback = tok.eos_token or tok.unk_token
            if fallback is not None:
                tok.pad_token = fallback
        self.pad_id = int(tok.pad_token_id) if tok.pad_token_id is not None else 0
        self.eos_id = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
        self.vocab_size = len(tok)

    def encode(self, text: str) -> list[int]:
        """Ids without special tokens; long text is encoded in line-aligned pieces, batched."""
        pieces = _line_pieces(text, 8000)
        if not pieces:
            return []
        out: list[int] = []
        for ids in self.tok(pieces, add_special_tokens=False, verbose=False)["input_ids"]:
            out.extend(ids)
        return out

    def encode_batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask) [B, max_length], padded and truncated by the tokenizer."""
        enc = self.tok(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        return enc["input_ids"].long(), enc["attention_mask"].long()

    def decode(self, ids: list[int]) -> str:
        """Text for ids, special tokens dropped."""
        return self.tok.decode(ids, skip_special_tokens=True)

    def save(self, folder: Path) -> None:
        """Write the tokenizer files into folder."""
        self.tok.save_pretrained(str(folder))


def _line_pieces(text: str, size: int) -> list[str]:
    """Split text into pieces of about `size` characters, cutting only after newlines."""
    pieces, current, length = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        length += len(line)
        if length >= size:
            pieces.append("".join(current))
            current, length = [], 0
    if current:
        pieces.append("".join(current))
    return pieces


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence load reports and progress bars; the engine reports what matters itself."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def read_hf_config(folder: Path) -> Any:
    """The transformers config of a folder, with a clear error when it is not one."""
    from transformers import AutoConfig

    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{folder} is not a Hugging Face model folder (no config.json); "
            "point model.path at the folder that holds config.json and the weights"
        )
    try:
        return AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except (ValueError, OSError, KeyError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot read {folder / 'config.json'}: {first}") from exc


def decide_task(config: Any, spec_task: str, num_labels: int | None, where: str) -> str:
    """causal-lm or classification from the spec, else from the config's architectures."""
    if spec_task in ("causal-lm", "classification"):
        return spec_task
    if spec_task == "generic":
        raise ModelLoadError(
            "task generic is for torch/torchscript modules; set model.task to causal-lm or "
            "classification for a Hugging Face model",
            "model.task",
        )
    archs = list(getattr(config, "architectures", None) or [])
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal-lm"
    if num_labels or any(a.endswith("ForSequenceClassification") for a in archs):
        return "classification"
    found = ", ".join(archs) or "none"
    raise ModelLoadError(
        f"cannot tell what {where} should predict (architectures: {found}); set model.task "
        "to causal-lm, or to classification with model.num_labels",
        "model.task",
    )


def auto_class(task: str) -> Any:
    """The transformers Auto class for a task."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    return AutoModelForCausalLM if task == "causal-lm" else AutoModelForSequenceClassification


def load_tokenizer(folder: Path) -> HFTokenizer | None:
    """The folder's tokenizer, or None when it has none (only data loading needs one)."""
    from transformers import AutoTokenizer

    names = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")
    if not any((folder / n).is_file() for n in names):
        return None
    try:
        with quiet_transformers():
            return HFTokenizer(AutoTokenizer.from_pretrained(str(folder), local_files_only=True))
    except (ValueError, OSError, KeyError, TypeError, json.JSONDecodeError):
        return None


def label_names_of(config: Any) -> list[str] | None:
    """Class names from id2label, unless they are the LABEL_0.. placeholders."""
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label[i]) for i in sorted(id2label)]
    if not names or all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        return None
    return names


def wrap_hf(
    model: nn.Module, task: str, tokenizer: HFTokenizer | None, kind: str, name: str, extra: dict
) -> LoadedModel:
    """LoadedModel around an inner transformers model."""
    config = model.config
    if task == "causal-lm":
        config.use_cache = False  # a KV cache output would only get in the way of export
    model.eval()
    arch = type(model).__name__
    n_params = sum(p.numel() for p in model.parameters())
    return LoadedModel(
        module=HFLogitsWrapper(model),
        task=task,
        input_names=TEXT_INPUTS,
        tokenizer=tokenizer,
        num_labels=int(config.num_labels) if task == "classification" else None,
        label_names=label_names_of(config) if task == "classification" else None,
        vocab_size=int(config.vocab_size),
        max_positions=int(getattr(config, "max_position_embeddings", None) or 512),
        kind=kind,
        description=f"{name}: {arch} ({task}), {n_params / 1e6:.2f}M params",
        extra=extra,
    )


def load_hf_folder(
    folder: Path,
    spec_task: str = "auto",
    num_labels: int | None = None,
    kind: str = "hf",
    name: str | None = None,
) -> LoadedModel:
    """Load a Hugging Face folder (config.json + weights) offline, choosing the task."""
    config = read_hf_config(folder)
    task = decide_task(config, spec_task, num_labels, str(folder))
    archs = list(getattr(config, "architectures", None) or [])
    has_head = any(a.endswith("ForSequenceClassification") for a in archs)
    if task == "classification" and not num_labels and not has_head:
        # without this the base model would silently get a 2-class head
        raise ModelLoadError(
            f"{folder} has no classification head; set model.num_labels to the number of classes",
            "model.num_labels",
        )
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": torch.float32}
    if task == "classification" and num_labels:
        kwargs["num_labels"] = num_labels
        if int(getattr(config, "num_labels", 0)) != num_labels:
            kwargs["ignore_mismatched_sizes"] = True  # replace an old head of another size
    try:
        with quiet_transformers(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(HF_INIT_SEED)
            model = auto_class(task).from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load the Hugging Face model in {folder}: {first}") from exc
    extra = {"hf_folder": str(folder)}
    # read as float32 above; load_model's as_float32 notes (or, for model.dtype: keep, restores)
    # a half-precision storage dtype recorded here
    from engine.models.precision_load import dtype_name, folder_stored_dtype

    stored = folder_stored_dtype(folder, config)
    if stored is not None:
        extra["stored_dtype"] = dtype_name(stored)
    return wrap_hf(model, task, load_tokenizer(folder), kind, name or folder.name, extra)


def build_hf_from_config(
    folder: Path,
    spec_task: str = "auto",
    num_labels: int | None = None,
    kind: str = "hf",
    name: str | None = None,
) -> LoadedModel:
    """A randomly initialised (seeded) model from the folder's config.json, weights loaded later."""
    config = read_hf_config(folder)
    task = decide_task(config, spec_task, num_labels, str(folder))
    if task == "classification" and num_labels:
        config.num_labels = num_labels
    with quiet_transformers(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(HF_INIT_SEED)
        model = auto_class(task).from_config(config)
    extra = {"hf_folder": str(folder)}
    return wrap_hf(model, task, load_tokenizer(folder), kind, name or folder.name, extra)


def folder_hints(folder: Path) -> dict[str, Any]:
    """What a folder's config.json says about its head, read as plain JSON (no transformers).

    {"architectures": [...], "task": "causal-lm" | "classification" | None,
     "num_labels": int | None, "label_names": [...] | None}; empty values when unknown.
    Used to pre-fill the GUI's model options; the loader still decides for itself.
    """
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    archs = [str(a) for a in config.get("architectures") or [] if isinstance(a, str)]
    task = None
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        task = "causal-lm"
    elif any(a.endswith("ForSequenceClassification") for a in archs) or config.get("id2label"):
        task = "classification"
    elif config.get("model_type") in ENCODER_TYPES and not config.get("is_decoder"):
        task = "classification"  # a bare encoder has no LM head worth pruning: a new class head
    id2label = config.get("id2label") if isinstance(config.get("id2label"), dict) else {}
    names = [str(v) for _, v in sorted(id2label.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)]
    placeholder = all(re.fullmatch(r"LABEL_\d+", n) for n in names)
    return {
        "architectures": archs,
        "task": task,
        "num_labels": len(names) if len(names) >= 2 and (task == "classification" or not placeholder) else None,
        "label_names": None if placeholder else names,
    }
