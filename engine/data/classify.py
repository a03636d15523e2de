"""Classification data: texts + string labels -> class ids and padded token tensors."""

from __future__ import annotations

import torch

from engine.data.bundle import DataBundle, DataLoadError, TokenDataset, split_index
from engine.models.types import Tokenizer

BATCH = 512  # texts per tokenizer call: fast tokenizers parallelise within a batch


def class_names(labels: list[str]) -> list[str]:
    """Sorted distinct labels; numerically when they are all whole numbers ("2" before "10")."""
    names = set(labels)
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def _listed(names: list[str], most: int = 8) -> str:
    """The class names for a description, the first `most` of many."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown}, … {len(names) - most} more"


def tokenize(
    tokenizer: Tokenizer, texts: list[str], max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) [N, max_length], encoded in batches."""
    ids, masks = [], []
    for start in range(0, len(texts), BATCH):
        i, m = tokenizer.encode_batch(texts[start : start + BATCH], max_length)
        ids.append(i)
        masks.append(m)
    return torch.cat(ids), torch.cat(masks)


def classification_bundle(
    texts: list[str],
    labels: list[str],
    tokenizer: Tokenizer,
    max_length: int,
    val_fraction: float,
    max_samples: int | None,
    seed: int,
    name: str,
) -> DataBundle:
    """Train/val TokenDatasets of class-labelled texts; only the sampled texts are tokenized."""
    train_idx, val_idx = split_index(len(texts), val_fraction, max_samples, seed, name)
    names = class_names(labels)
    if len(names) < 2:
        raise DataLoadError(
            f"{name} has a single class ({names[0]!r}); a classifier needs at least 2 labels"
        )
    index = {label: i for i, label in enumerate(names)}
    chosen = torch.cat([train_idx, val_idx]).tolist()
    ids, mask = tokenize(tokenizer, [texts[i] for i in chosen], max_length)
    y = torch.tensor([index[labels[i]] for i in chosen], dtype=torch.long)
    data = TokenDataset(ids, mask, y)
    n_train = len(train_idx)
    used = len(chosen)
    of = f"{used} of {len(texts)}" if used < len(texts) else f"{used}"
    return DataBundle(
        task="classification",
        train=data.subset(torch.arange(n_train)),
        val=data.subset(torch.arange(n_train, used)),
        num_labels=len(names),
        label_names=names,
        description=f"{name}: {of} texts, {len(names)} classes ({_listed(names)}; "
        f"{n_train} train / {used - n_train} val)",
    )
