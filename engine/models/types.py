"""What every model loader returns: the module plus what the rest of the engine needs to drive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from engine.config_fields import ConfigError, FieldError

TEXT_INPUTS = ("input_ids", "attention_mask")
GENERIC_INPUTS = ("input",)


class ModelLoadError(ConfigError):
    """A model that cannot be loaded; str() is one line naming the problem and the fix."""

    def __init__(self, message: str, field: str = "model.path"):
        super().__init__([FieldError(field, message)])


@runtime_checkable
class Tokenizer(Protocol):
    vocab_size: int
    pad_id: int

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, no padding; used to build language-model streams."""
        ...

    def encode_batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask), both LongTensor [B, max_length], padded and truncated."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Text for token ids (padding dropped)."""
        ...


@dataclass
class LoadedModel:
    module: nn.Module  # forward(*inputs) -> logits; text models take (input_ids, attention_mask)
    task: str  # causal-lm | classification | generic
    input_names: tuple[str, ...]
    tokenizer: Tokenizer | None
    num_labels: int | None = None
    label_names: list[str] | None = None
    vocab_size: int | None = None
    max_positions: int = 512
    input_shape: tuple[int, ...] | None = None  # generic models only
    input_dtype: str = "float32"  # generic models: float32, or int64 for token ids
    input_range: tuple[int, int] | None = None  # [low, high) of int64 example inputs
    kind: str = (
        ""  # loader that made it: builtin | hf | safetensors | torch | torchscript | checkpoint
    )
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # what save_model needs to rebuild it

    @property
    def is_text(self) -> bool:
        """True when the module takes (input_ids, attention_mask)."""
        return self.input_names == TEXT_INPUTS

    def example_inputs(self, batch: int = 1, seq: int = 16) -> tuple[torch.Tensor, ...]:
        """Valid random inputs for one forward; a fixed generator keeps them reproducible."""
        gen = torch.Generator().manual_seed(0)
        if self.is_text:
            seq = max(1, min(seq, self.max_positions))
            # without a known vocabulary only ids 0 and 1 are surely valid
            high = self.vocab_size or (self.tokenizer.vocab_size if self.tokenizer else 2)
            ids = torch.randint(0, high, (batch, seq), generator=gen)
            return ids, torch.ones(batch, seq, dtype=torch.long)
        if not self.input_shape:
            raise ModelLoadError(
                "generic model has no example input; set model.input_shape, e.g. [1, 3, 32, 32]",
                "model.input_shape",
            )
        shape = (batch, *self.input_shape[1:])
        if self.input_dtype == "int64":
            # token ids: without a stated range only 0 and 1 are surely valid
            low, high = self.input_range or (0, 2)
            return (torch.randint(low, high, shape, generator=gen),)
        return (torch.randn(shape, generator=gen),)
