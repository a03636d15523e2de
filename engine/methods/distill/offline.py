"""Offline teacher outputs: the teacher's top-k logits over the training data, kept in a file.

A teacher too large to sit in memory next to the student runs once, before training, over
the training split; each sample's top-k logits (values float32 + class indices int32) go
into a safetensors file in the run folder (no code in it, nothing to trust). During training
`OfflineTeacher` stands in for the teacher: it looks each batch row up by a digest of its
tokens and returns logits that are the teacher's on the kept classes and −inf elsewhere, so
kd_loss is the KL over the kept classes (the teacher's distribution renormalised on them,
the student's full one), equal to the online teacher's restricted to the same classes.
Hidden-state and attention KD need the teacher itself: the stand-in has no blocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from engine.train.forward import forward, to_device

TEACHER_OUTPUTS_FILE = "teacher_topk.safetensors"


@dataclass(frozen=True)
class OfflineRecord:
    """What recording wrote: for the log and the card (file size, teacher memory saved)."""

    path: Path
    samples: int
    k: int
    file_bytes: int
    teacher_bytes: int  # the teacher's parameters and buffers: memory training no longer holds


def row_keys(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[int]:
    """One 63-bit digest per batch row of its tokens and mask: how a sample is found again."""
    ids = input_ids.detach().to("cpu", torch.int64).numpy()
    mask = attention_mask.detach().to("cpu", torch.int64).numpy()
    return [int.from_bytes(hashlib.blake2b(i.tobytes() + m.tobytes(), digest_size=8).digest(),
                           "little") >> 1 for i, m in zip(ids, mask, strict=True)]  # fmt: skip


@torch.no_grad()
def record_teacher_topk(
    teacher: nn.Module, dataset: Dataset, k: int, path: Path, device: torch.device,
    batch_size: int = 16, progress: Callable[[float, str], None] | None = None,
) -> OfflineRecord:  # fmt: skip
    """Run the teacher (eval, no_grad) over every sample once and write its top-k logits."""
    from safetensors.torch import save_file

    if k < 1:
        raise ValueError(f"offline top-k must be >= 1, got {k}")
    teacher.eval().to(device)
    values, indices, keys, vocab = [], [], [], 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for n, batch in enumerate(loader):
        if progress is not None:
            progress(n / max(1, len(loader)), f"teacher outputs: batch {n + 1}/{len(loader)}")
        batch = to_device(batch, device)
        logits = forward(teacher, batch).float()
        vocab = logits.size(-1)
        top = logits.topk(min(k, vocab), dim=-1)
        values.append(top.values.cpu())
        indices.append(top.indices.to(torch.int32).cpu())
        keys += row_keys(batch["input_ids"], batch["attention_mask"])
    tensors = {"values": torch.cat(values), "indices": torch.cat(indices),
               "keys": torch.tensor(keys, dtype=torch.int64)}  # fmt: skip
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={"vocab": str(vocab), "k": str(min(k, vocab))})
    tmp.replace(path)
    size = sum(t.numel() * t.element_size() for t in (*teacher.parameters(), *teacher.buffers()))
    return OfflineRecord(path, len(keys), min(k, vocab), path.stat().st_size, size)


class OfflineTeacher(nn.Module):
    """Serves recorded top-k logits as a teacher: forward(input_ids, attention_mask) -> logits."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if not {"values", "indices", "keys"} <= set(f.keys()) or "vocab" not in meta:
                raise ValueError(f"{path} is not a file of recorded teacher outputs; record again")
            self.values, self.indices = f.get_tensor("values"), f.get_tensor("indices")
            keys = f.get_tensor("keys").tolist()
        self.vocab, self.path = int(meta["vocab"]), path
        self.row = {key: i for i, key in enumerate(keys)}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The recorded logits on the kept classes, −inf on the others ([B, C] or [B, T, V])."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        rows = []
        for key in row_keys(input_ids, attention_mask):
            if key not in self.row:
                raise ValueError(f"a training sample has no recorded teacher output in "
                                 f"{self.path.name} (the data changed since it was recorded); "
                                 "record the teacher's outputs again")
            rows.append(self.row[key])
        pick = torch.tensor(rows)
        values, indices = self.values[pick], self.indices[pick].long()
        out = torch.full((*values.shape[:-1], self.vocab), float("-inf"))
        out.scatter_(-1, indices, values)
        return out.to(input_ids.device)
