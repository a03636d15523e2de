"""model.tokenizer: a user's own tokenizer for any model source, and saving it with a variant.

Accepted: a Hugging Face tokenizer folder, a `tokenizer.json` (the `tokenizers` library's
format), or, only with model.trust, a torch.save pickle of an object with encode/decode
(unpickling can run code, so the file alone never grants it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.models.hf import HFTokenizer, load_tokenizer, quiet_transformers
from engine.models.types import ModelLoadError, Tokenizer

FIELD = "model.tokenizer"
PICKLE_TOKENIZER = "tokenizer.pickle.pt"  # how a pickled tokenizer is stored with a variant
HOW = "a Hugging Face tokenizer folder or a tokenizer.json"
# special tokens looked up in a bare tokenizer.json, which names none of its own
PAD_NAMES = ("<pad>", "[PAD]", "<|pad|>", "<|padding|>")
EOS_NAMES = ("<|endoftext|>", "</s>", "<eos>", "<|eos|>", "[SEP]", "[EOS]")
UNK_NAMES = ("<unk>", "[UNK]", "<|unk|>")


def load_user_tokenizer(text: str, trust: bool) -> Tokenizer:
    """The tokenizer model.tokenizer names; ModelLoadError (field model.tokenizer) otherwise."""
    path = Path(text.strip()).expanduser()
    if not path.exists():
        raise ModelLoadError(f"tokenizer {path} not found; give {HOW}", FIELD)
    if path.is_dir():
        tok = load_tokenizer(path)
        if tok is None:
            raise ModelLoadError(
                f"{path} holds no readable tokenizer files (tokenizer.json, tokenizer_config.json, "
                f"vocab.txt, tokenizer.model); give {HOW}",
                FIELD,
            )
        return tok
    if path.suffix == ".json":
        return _json_tokenizer(path)
    return _pickled_tokenizer(path, trust)


def _json_tokenizer(path: Path) -> HFTokenizer:
    """A tokenizer.json wrapped as a fast HF tokenizer, with its special tokens found by name."""
    from transformers import PreTrainedTokenizerFast

    try:
        with quiet_transformers():
            tok = PreTrainedTokenizerFast(tokenizer_file=str(path))
    except Exception as exc:  # the Rust parser raises its own exception types
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{path} is not a readable tokenizer.json ({first}); save it with "
            "tokenizer.save(path) from the tokenizers library, or give a tokenizer folder",
            FIELD,
        ) from exc
    vocab = tok.get_vocab()
    for attr, names in (("pad_token", PAD_NAMES), ("eos_token", EOS_NAMES), ("unk_token", UNK_NAMES)):
        if getattr(tok, attr) is None:
            found = next((n for n in names if n in vocab), None)
            if found is not None:
                setattr(tok, attr, found)
    if tok.pad_token is None and tok.eos_token is None and tok.unk_token is None:
        # padding is masked out, so any token serves; the HF tokenizer refuses to pad without one
        tok.pad_token = tok.convert_ids_to_tokens(0)
    return HFTokenizer(tok)


def _pickled_tokenizer(path: Path, trust: bool) -> Tokenizer:
    """A torch.save'd tokenizer object (trusted only), adapted to the Tokenizer protocol."""
    from engine.models.torch_files import load_torch_file

    if not trust:
        raise ModelLoadError(
            f"tokenizer {path} is a pickle (torch.save); loading it can run arbitrary code. Set "
            f"model.trust: true if you made it yourself, or give {HOW}",
            FIELD,
        )
    obj = load_torch_file(path, trust=True)
    if hasattr(obj, "save_pretrained") and hasattr(obj, "pad_token_id"):  # a transformers one
        return HFTokenizer(obj)
    return ObjectTokenizer(obj, str(path))


def _vocab_size(obj: Any) -> int | None:
    """The vocabulary size an object states in any of the usual ways."""
    for name in ("vocab_size", "n_vocab", "num_tokens"):
        value = getattr(obj, name, None)
        value = value() if callable(value) else value
        if isinstance(value, int):
            return value
    if callable(getattr(obj, "get_vocab_size", None)):
        return int(obj.get_vocab_size())
    vocab = getattr(obj, "vocab", None) or getattr(obj, "stoi", None)
    if isinstance(vocab, (dict, list)):
        return len(vocab)
    if hasattr(obj, "__len__"):
        return len(obj)
    return None


def _first_int(obj: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, int):
            return value
    return None


class ObjectTokenizer:
    """Any object with encode(text) -> ids and decode(ids) -> text, as an engine Tokenizer.

    What it lacks is derived: encode_batch pads and truncates encode()'s ids; pad_id falls
    back to its end-of-text id or 0 (padding is masked out of the loss and attention).
    """

    def __init__(self, obj: Any, where: str):
        missing = [m for m in ("encode", "decode") if not callable(getattr(obj, m, None))]
        size = _vocab_size(obj)
        if size is None:
            missing.append("vocab_size (or get_vocab_size(), vocab, __len__)")
        if missing:
            raise ModelLoadError(
                f"tokenizer {where} holds a {type(obj).__name__}, which lacks {', '.join(missing)}; "
                f"save an object with encode(text) -> ids, decode(ids) -> text and vocab_size, "
                f"or give {HOW}",
                FIELD,
            )
        self.obj = obj
        self.vocab_size = size
        self.eos_id = _first_int(obj, ("eos_id", "eos_token_id", "eot_token", "eos"))
        pad = _first_int(obj, ("pad_id", "pad_token_id", "pad_idx", "pad"))
        self.pad_id = pad if pad is not None else (self.eos_id or 0)
        self._drop = {pad} if pad is not None else set()  # a fallback pad may be a real token

    def encode(self, text: str) -> list[int]:
        """The object's ids for text (a tensor or an Encoding with .ids is read as ids)."""
        out = self.obj.encode(text)
        out = getattr(out, "ids", out)
        if isinstance(out, torch.Tensor):
            out = out.flatten().tolist()
        return [int(i) for i in out]

    def encode_batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask) [B, max_length]: encode() truncated, right-padded."""
        ids = torch.full((len(texts), max_length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), max_length), dtype=torch.long)
        for row, text in enumerate(texts):
            got = self.encode(text)[:max_length]
            if got:
                ids[row, : len(got)] = torch.tensor(got, dtype=torch.long)
                mask[row, : len(got)] = 1
        return ids, mask

    def decode(self, ids: list[int]) -> str:
        """The object's text for ids, padding dropped."""
        return str(self.obj.decode([int(i) for i in ids if int(i) not in self._drop]))


def tokenizer_kind(tok: Any) -> str | None:
    """How save_tokenizer stores tok: hf (files), pickle, or None (nothing to write)."""
    if isinstance(tok, HFTokenizer):
        return "hf"
    if isinstance(tok, ObjectTokenizer):
        return "pickle"
    return None


def save_tokenizer(tok: Any, folder: Path) -> None:
    """Write tok into a checkpoint folder so loading the variant brings it back."""
    if isinstance(tok, HFTokenizer):
        tok.save(folder)
    elif isinstance(tok, ObjectTokenizer):
        torch.save(tok.obj, str(folder / PICKLE_TOKENIZER))


def load_saved_tokenizer(folder: Path, kind: str | None, trust: bool) -> Tokenizer | None:
    """The tokenizer save_tokenizer wrote (a pickled one only with the user's trust)."""
    if kind == "hf":
        return load_tokenizer(folder)
    if kind == "pickle":
        return _pickled_tokenizer(folder / PICKLE_TOKENIZER, trust)
    return None
