"""Byte-level tokenizer for the built-in tiny models: needs no vocabulary file and never fails."""

from __future__ import annotations

import torch


class ByteTokenizer:
    """UTF-8 bytes are ids 0-255; 256 is padding and 257 marks the end of a document."""

    vocab_size = 258
    pad_id = 256
    eos_id = 257

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes of text."""
        return list(text.encode("utf-8"))

    def encode_tensor(self, text: str) -> torch.Tensor:
        """encode() as a LongTensor, without a Python list (megabytes of text in milliseconds)."""
        data = text.encode("utf-8")
        if not data:
            return torch.zeros(0, dtype=torch.long)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()

    def encode_batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask) [B, max_length]: truncated, right-padded with pad_id."""
        ids = torch.full((len(texts), max_length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), max_length), dtype=torch.long)
        for row, text in enumerate(texts):
            data = text.encode("utf-8")[:max_length]
            if data:
                ids[row, : len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
                mask[row, : len(data)] = 1
        return ids, mask

    def decode(self, ids: list[int]) -> str:
        """Text for ids; padding and end-of-document ids are dropped, broken UTF-8 replaced."""
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return "ByteTokenizer()"
