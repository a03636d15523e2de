"""DataBundle: tokenized train/val sets of equal-length samples, ready for a DataLoader."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from engine.config_fields import ConfigError, FieldError

IGNORE_INDEX = -100  # label for padding in LM targets; F.cross_entropy skips it by default


class DataLoadError(ConfigError):
    """Data that cannot be loaded; str() is one line naming the problem and the fix."""

    def __init__(self, message: str, field: str = "data.path"):
        super().__init__([FieldError(field, message)])


class TokenDataset(Dataset):
    """Samples backed by three tensors; items are dicts the default collate can stack."""

    def __init__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor):
        self.input_ids = input_ids  # [N, T] long
        self.attention_mask = attention_mask  # [N, T] long, 1 = real token
        self.labels = labels  # [N] class ids, or [N, T] LM targets (padding = IGNORE_INDEX)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.input_ids[i],
            "attention_mask": self.attention_mask[i],
            "labels": self.labels[i],
        }

    def subset(self, index: torch.Tensor) -> TokenDataset:
        """The samples at index, as a new dataset."""
        return TokenDataset(self.input_ids[index], self.attention_mask[index], self.labels[index])


@dataclass
class DataBundle:
    task: str  # causal-lm | classification
    train: TokenDataset
    val: TokenDataset
    num_labels: int | None = None
    label_names: list[str] | None = None
    description: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. an encoding that was guessed


def split_index(
    n: int, val_fraction: float, max_samples: int | None, seed: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices: seeded shuffle, cap at max_samples, then at least one for val."""
    if n < 2:
        raise DataLoadError(f"{what} has only {n} sample(s); need at least 2 (one for validation)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if max_samples is not None:
        order = order[:max_samples]
    n_val = min(len(order) - 1, max(1, round(len(order) * val_fraction)))
    return order[n_val:], order[:n_val]


def lm_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """LM targets: the inputs themselves (the loss shifts them), padding ignored."""
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
