"""Language-model data: token streams cut into equal blocks, split into train and val."""

from __future__ import annotations

import torch

from engine.data.bundle import DataBundle, DataLoadError, TokenDataset, lm_labels, split_index
from engine.models.types import Tokenizer


def encode_documents(tokenizer: Tokenizer, documents: list[str]) -> torch.Tensor:
    """One long LongTensor of tokens; documents are separated by the tokenizer's eos id if any."""
    eos = getattr(tokenizer, "eos_id", None)
    fast = getattr(tokenizer, "encode_tensor", None)  # optional: skips a list of millions of ints
    parts: list[torch.Tensor] = []
    for i, doc in enumerate(documents):
        if i and eos is not None:
            parts.append(torch.tensor([eos], dtype=torch.long))
        if fast is not None:
            parts.append(fast(doc))
        else:
            parts.append(torch.tensor(tokenizer.encode(doc), dtype=torch.long))
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def chunk_tokens(
    tokens: torch.Tensor, block: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) [N, block] of non-overlapping blocks.

    A final partial block is kept, padded, when it has at least 2 tokens (one prediction).
    """
    n_full = tokens.numel() // block
    ids = tokens[: n_full * block].reshape(n_full, block)
    mask = torch.ones_like(ids)
    rest = tokens[n_full * block :]
    if rest.numel() >= 2:
        tail = torch.full((1, block), pad_id, dtype=torch.long)
        tail[0, : rest.numel()] = rest
        tail_mask = torch.zeros((1, block), dtype=torch.long)
        tail_mask[0, : rest.numel()] = 1
        ids, mask = torch.cat([ids, tail]), torch.cat([mask, tail_mask])
    return ids, mask


def lm_bundle(
    tokens: torch.Tensor,
    tokenizer: Tokenizer,
    block: int,
    val_fraction: float,
    max_samples: int | None,
    seed: int,
    name: str,
) -> DataBundle:
    """Blocks of `block` tokens from a token stream, split train/val (seeded)."""
    ids, mask = chunk_tokens(tokens, block, tokenizer.pad_id)
    if len(ids) < 2:
        raise DataLoadError(
            f"{name} gives {len(ids)} block(s) of {block} tokens ({tokens.numel()} tokens); "
            "need at least 2: use more text or a smaller data.max_length"
        )
    full = TokenDataset(ids, mask, lm_labels(ids, mask))
    train_idx, val_idx = split_index(len(full), val_fraction, max_samples, seed, name)
    used = len(train_idx) + len(val_idx)
    of = f"{used} of {len(full)}" if used < len(full) else f"{used}"
    return DataBundle(
        task="causal-lm",
        train=full.subset(train_idx),
        val=full.subset(val_idx),
        description=f"{name}: {tokens.numel():,} tokens, {of} blocks of {block} "
        f"({len(train_idx)} train / {len(val_idx)} val)",
    )
