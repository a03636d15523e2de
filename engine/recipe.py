"""The Recipe: one whole job (model, data, method steps, training, export) as data.

The GUI builds one, the CLI reads one from YAML, and both hand it to the same Job.
"""

from __future__ import annotations

import dataclasses
import math
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
from engine.deploy.config import DeployConfig
from engine.recipe_input import SECTIONS, check_recipe_shape, read_recipe_text, untrusted_config  # noqa: F401 (SECTIONS: re-exported)
from engine.safe_yaml import MAX_BYTES, YamlTooLarge, bounded_safe_load  # noqa: F401 (MAX_BYTES: re-exported)
from engine.train.train_config import TrainConfig  # noqa: F401 (re-exported: recipes' train section)

MAX_NAME = 200
MAX_INPUT_ELEMENTS = 1 << 26  # one example input: 64M values is beyond any real one
MAX_NOTES = 20_000
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
    input_dtype: str = option(
        "float32", choices=("float32", "int64"),
        help="element type of a generic model's example input: int64 for token ids",
        advanced=True,
    )
    input_range: tuple[int, ...] | None = option(
        None, help="[low, high) of int64 example inputs, e.g. [0, 50257] for token ids",
        advanced=True,
    )
    tokenizer: str | None = option(
        None, help="tokenizer for text: a Hugging Face tokenizer folder, a tokenizer.json, "
        "or (with trust) a torch.save of an object with encode/decode", advanced=True,
    )
    python_path: str | None = option(
        None, help="folder added to the import path so a pickled module's class can be "
        "imported (with trust)", advanced=True,
    )
    dtype: str = option(
        "float32", choices=("float32", "keep"),
        help="float32 converts half-precision (bf16/fp16) weights for training and export; "
        "keep leaves them as stored", advanced=True,
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        if not self.path.strip():
            return [("path", "is empty; give a built-in name, a file or a folder")]
        if self.input_range is not None and (
            len(self.input_range) != 2 or self.input_range[0] >= self.input_range[1]
        ):
            return [("input_range", f"needs [low, high] with low < high, e.g. [0, 50257]; got "
                     f"{list(self.input_range)}")]
        if self.input_shape is not None:
            if not self.input_shape or any(d < 1 for d in self.input_shape):
                return [("input_shape", f"needs sizes of at least 1, e.g. [1, 3, 32, 32]; got "
                         f"{list(self.input_shape)}")]
            if math.prod(self.input_shape) > MAX_INPUT_ELEMENTS:
                return [("input_shape", f"{list(self.input_shape)} is {math.prod(self.input_shape):,} "
                         f"values; an example input holds at most {MAX_INPUT_ELEMENTS:,}")]
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
    encoding: str = option(
        "auto", help="text encoding of data files: auto (UTF-8, else a reported guess), "
        "or e.g. utf-8, cp1252, shift_jis", advanced=True,
    )
    text_field: str = option("text", help="CSV/JSONL column holding the text", advanced=True)
    label_field: str = option("label", help="CSV/JSONL column holding the label", advanced=True)
    seed: int = option(0, min=0, help="shuffle/split seed", advanced=True)


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
class ChecksConfig:
    """When a child's metric is so much worse than its parent's that the model collapsed."""

    max_accuracy_drop: float = option(
        0.05, min=0.0, max=1.0, min_exclusive=True,
        help="accuracy falling by more than this (0.05 = 5 points) flags the variant as collapsed",
    )
    max_metric_ratio: float = option(
        2.0, min=1.0, max=1e6, min_exclusive=True,
        help="perplexity or loss rising by more than this factor flags the variant as collapsed",
    )


@dataclass(frozen=True)
class Recipe:
    name: str = "untitled"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    methods: tuple[Any, ...] = ()  # method configs from engine.registry
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)  # target checks at the end
    parent: str | None = None  # variant id/name this one derives from (set by source: variant)
    notes: str = ""

    # -- validation -------------------------------------------------------------
    def errors(self) -> list[FieldError]:
        """Every problem in the recipe, each naming its field."""
        errs: list[FieldError] = []
        if not self.name.strip():
            errs.append(FieldError("name", "is empty; give the variant a name"))
        elif len(self.name) > MAX_NAME or "\n" in self.name:
            errs.append(FieldError("name", f"must be one line of at most {MAX_NAME} characters"))
        if len(self.notes) > MAX_NOTES:
            errs.append(FieldError(
                "notes", f"is {len(self.notes):,} characters; keep notes under {MAX_NOTES:,}"
            ))
        errs += validate_config(self.model, "model")
        errs += validate_config(self.data, "data")
        errs += validate_config(self.train, "train")
        errs += validate_config(self.export, "export")
        errs += validate_config(self.checks, "checks")
        errs += validate_config(self.deploy, "deploy")
        for i, m in enumerate(self.methods):
            step_errs = validate_config(m, f"methods[{i}]")
            errs += step_errs
            needs = getattr(m, "recipe_checks", None)  # what a step needs of other sections
            if needs is not None and not step_errs:
                errs += [FieldError(f"methods[{i}].{k}", msg) for k, msg in needs(self)]
        if self.methods:
            from engine.registry import order_errors

            errs += order_errors(self.methods)
        if self.methods and self.train.strategy == "fsdp":  # masks need whole weights
            from engine.train.strategy_fsdp import fsdp_method_problem

            problem = fsdp_method_problem(self.methods)
            errs += [FieldError("train.strategy", problem)] if problem else []
        if self.methods and self.train.strategy == "deepspeed":  # ZeRO-3 shards the weights too
            from engine.train.deepspeed_config import method_problem

            problem = method_problem(self.methods, self.train.deepspeed_stage)
            errs += [FieldError("train.deepspeed_stage", problem)] if problem else []
        return errs

    def validate(self) -> Recipe:
        """This recipe, or ConfigError listing every problem."""
        errs = self.errors()
        if errs:
            raise ConfigError(errs)
        return self

    # -- YAML -------------------------------------------------------------------
    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """The recipe as plain data: what differs from the defaults, or every field (`full`).

        The model and data always say what they are (source, path) and each step its type;
        everything else is written only when it differs from its default, so a saved recipe
        holds what the user set. Both forms load back to the same Recipe.
        """
        from engine.registry import method_type_name

        def part(cfg: Any, keep: tuple[str, ...] = ()) -> dict[str, Any]:
            return config_to_dict(cfg, changed_only=not full, keep=keep)

        out: dict[str, Any] = {
            "name": self.name,
            "parent": self.parent,
            "notes": self.notes,
            "model": part(self.model, ("source", "path")),
            "data": part(self.data, ("source", "path")),
            "methods": [{"type": method_type_name(m), **part(m)} for m in self.methods],
            "train": part(self.train),
            "export": part(self.export),
            "checks": part(self.checks),
            "deploy": part(self.deploy),
        }
        if full:
            return out
        empty = {"parent": None, "notes": "", "methods": [], "train": {}, "export": {},
                 "checks": {}, "deploy": {}}
        return {k: v for k, v in out.items() if k not in empty or v != empty[k]}

    def to_yaml(self, full: bool = False) -> str:
        """YAML text of `to_dict(full)`."""
        return yaml.safe_dump(self.to_dict(full), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """Build a recipe from plain data (parsed YAML); ConfigError naming each bad field."""
        from engine.registry import method_config_class

        steps = check_recipe_shape(data, {f.name for f in dataclasses.fields(cls)})
        methods = []
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or "type" not in step:
                raise ConfigError(
                    [FieldError(f"methods[{i}]", "needs a 'type:' (e.g. unstructured_prune)")]
                )
            step = dict(step)
            mcls = method_config_class(str(step.pop("type")), f"methods[{i}].type")
            methods.append(config_from_dict(mcls, step, f"methods[{i}]"))
        return cls(
            name=str(data.get("name") or "untitled"),
            model=config_from_dict(ModelSpec, data.get("model"), "model"),
            data=config_from_dict(DataSpec, data.get("data"), "data"),
            methods=tuple(methods),
            train=config_from_dict(TrainConfig, data.get("train"), "train"),
            export=config_from_dict(ExportConfig, data.get("export"), "export"),
            checks=config_from_dict(ChecksConfig, data.get("checks"), "checks"),
            deploy=config_from_dict(DeployConfig, data.get("deploy"), "deploy"),
            parent=None if data.get("parent") is None else str(data["parent"]),
            notes=str(data.get("notes") or ""),
        )

    @classmethod
    def from_yaml(cls, text: str, source: str = "") -> Recipe:
        """Parse a recipe with bounded YAML (size, alias expansion and nesting are capped)."""
        where = f"{source} " if source else ""
        try:
            data = bounded_safe_load(text)
        except YamlTooLarge as exc:
            raise ConfigError(f"{where}{exc}; it is refused unread") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}is not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe file, refusing folders, huge files and non-UTF-8 text by name."""
        p = Path(path)
        return cls.from_yaml(read_recipe_text(p), str(p))

    def untrusted(self) -> Recipe:
        """This recipe with model.trust off: for recipes read back from a workspace.

        Trust to unpickle is the user's decision for the file they name now; a recipe stored
        in a workspace (which may have been copied from anywhere) never carries it over.
        """
        steps = tuple(untrusted_config(m) for m in self.methods)  # a teacher's spec too
        return self.replace(model=untrusted_config(self.model), methods=steps)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with `changes` (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)

