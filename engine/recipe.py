"""The Recipe: one whole job (model, data, method steps, training, export) as data.

The GUI builds one, the CLI reads one from YAML, and both hand it to the same Job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.config_fields import (
    ConfigError,
    FieldError,
    config_from_dict,
    config_to_dict,
    option,
    validate_config,
)

MODEL_SOURCES = ("builtin", "hf", "safetensors", "torch", "torchscript", "checkpoint", "variant")
TASKS = ("auto", "causal-lm", "classification", "generic")


@dataclass(frozen=True)
class ModelSpec:
    source: str = option(
        "builtin",
        choices=MODEL_SOURCES,
        help="builtin demo, Hugging Face folder, .safetensors, torch.save file, "
        "TorchScript, a workbench checkpoint folder, or a variant in the workspace",
    )
    path: str = option("tiny-gpt", help="built-in name, file/folder path, or variant name/id")
    task: str = option("auto", choices=TASKS, help="what the model's logits mean")
    num_labels: int | None = option(None, min=2, help="classes for a new classification head")
    architecture: str | None = option(
        None, help="built-in architecture to load a bare state_dict / safetensors into"
    )
    trust: bool = option(
        False,
        help="allow full unpickling of a torch.save file; only for files you made yourself",
    )
    input_shape: tuple[int, ...] | None = option(
        None, help="example input shape for generic (non-text) models, e.g. [1, 3, 32, 32]"
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        if not self.path.strip():
            return [("path", "is empty; give a built-in name, a file or a folder")]
        return []


DATA_SOURCES = ("builtin", "text", "labelled", "none")


@dataclass(frozen=True)
class DataSpec:
    source: str = option(
        "builtin",
        choices=DATA_SOURCES,
        help="builtin demo data, a plain text file (language modelling), labelled text "
        "(CSV/JSONL/folder per label), or none",
    )
    path: str = option("shakespeare", help="built-in name (shakespeare, bbc-news) or a path")
    max_length: int = option(128, min=8, max=8192, help="tokens per sample / LM block")
    val_fraction: float = option(0.1, min=0.0, max=0.9, min_exclusive=True, help="held out")
    max_samples: int | None = option(None, min=10, help="cap on samples, for quick runs")
    text_field: str = option("text", help="CSV/JSONL column holding the text", advanced=True)
    label_field: str = option("label", help="CSV/JSONL column holding the label", advanced=True)
    seed: int = option(0, min=0, help="shuffle/split seed", advanced=True)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = option(
        1, min=0, max=1000, help="passes over the training data (0 = no fine-tuning)"
    )
    max_steps: int | None = option(None, min=1, help="stop after this many optimizer steps")
    batch_size: int = option(16, min=1, max=65536, help="samples per step")
    lr: float = option(5e-4, min=0.0, max=10.0, min_exclusive=True, label="Learning rate")
    weight_decay: float = option(0.0, min=0.0, max=1.0, advanced=True)
    warmup_steps: int = option(0, min=0, help="linear warm-up, then linear decay", advanced=True)
    eval_every: int = option(50, min=1, help="validate every N steps")
    eval_batches: int | None = option(None, min=1, help="cap on validation batches", advanced=True)
    log_every: int = option(5, min=1, help="emit train metrics every N steps", advanced=True)
    checkpoint_every: int | None = option(
        None, min=1, help="save a resumable training state every N steps", advanced=True
    )
    device: str = option("auto", choices=("auto", "cpu", "cuda"))
    precision: str = option(
        "fp32", choices=("fp32",), help="AMP fp16/bf16 arrive with the training issue"
    )
    seed: int = option(0, min=0, advanced=True)


@dataclass(frozen=True)
class ExportConfig:
    enabled: bool = option(True, help="export to ONNX after training")
    opset: int = option(18, min=13, max=23)
    check: bool = option(True, help="onnx.checker + onnxruntime parity against PyTorch")
    parity_batches: int = option(4, min=1, max=100, help="held-out batches compared with PyTorch")
    latency_runs: int = option(30, min=3, max=10000, help="timed onnxruntime runs")
    latency_batch: int = option(1, min=1, max=1024, help="batch size for latency")
    latency_seq: int = option(64, min=1, max=8192, help="sequence length for latency")


@dataclass(frozen=True)
class Recipe:
    name: str = "untitled"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    methods: tuple[Any, ...] = ()  # method configs from engine.registry
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    parent: str | None = None  # variant id/name this one derives from (set by source: variant)
    notes: str = ""

    # -- validation -------------------------------------------------------------
    def errors(self) -> list[FieldError]:
        """Every problem in the recipe, each naming its field."""
        errs: list[FieldError] = []
        if not self.name.strip():
            errs.append(FieldError("name", "is empty; give the variant a name"))
        errs += validate_config(self.model, "model")
        errs += validate_config(self.data, "data")
        errs += validate_config(self.train, "train")
        errs += validate_config(self.export, "export")
        for i, m in enumerate(self.methods):
            errs += validate_config(m, f"methods[{i}]")
        return errs

    def validate(self) -> Recipe:
        errs = self.errors()
        if errs:
            raise ConfigError(errs)
        return self

    # -- YAML -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from engine.registry import method_type_name

        return {
            "name": self.name,
            "parent": self.parent,
            "notes": self.notes,
            "model": config_to_dict(self.model),
            "data": config_to_dict(self.data),
            "methods": [{"type": method_type_name(m), **config_to_dict(m)} for m in self.methods],
            "train": config_to_dict(self.train),
            "export": config_to_dict(self.export),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        from engine.registry import method_config_class

        if not isinstance(data, dict):
            raise ConfigError(
                "a recipe must be a YAML mapping with model/data/methods/train/export"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                [
                    FieldError(k, f"unknown section; known: {', '.join(sorted(known))}")
                    for k in unknown
                ]
            )
        methods = []
        for i, step in enumerate(data.get("methods") or []):
            if not isinstance(step, dict) or "type" not in step:
                raise ConfigError(
                    [FieldError(f"methods[{i}]", "needs a 'type:' (e.g. unstructured_prune)")]
                )
            step = dict(step)
            mcls = method_config_class(step.pop("type"), f"methods[{i}].type")
            methods.append(config_from_dict(mcls, step, f"methods[{i}]"))
        return cls(
            name=str(data.get("name") or "untitled"),
            model=config_from_dict(ModelSpec, data.get("model"), "model"),
            data=config_from_dict(DataSpec, data.get("data"), "data"),
            methods=tuple(methods),
            train=config_from_dict(TrainConfig, data.get("train"), "train"),
            export=config_from_dict(ExportConfig, data.get("export"), "export"),
            parent=data.get("parent"),
            notes=str(data.get("notes") or ""),
        )

    @classmethod
    def from_yaml(cls, text: str) -> Recipe:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {str(exc).splitlines()[0]}") from exc
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"recipe file not found: {p}")
        return cls.from_yaml(p.read_text(encoding="utf-8"))

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)
