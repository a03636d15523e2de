"""What an ONNX file's bytes are: initializers grouped by the part of the model they belong to.

bench/distill_chain.py prints this for the chain's final file, to say which part keeps it from
a target size (on MiniLM: the 30,522 x 384 word-embedding table) and what would remove it.
An initializer belongs to the group named by its own name or by the nodes that read it (the
quantizers name their scales and packed weights after the node they replace).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import onnx
from onnx import numpy_helper

WORD, POSITION, ENCODER, HEAD, OTHER = (
    "word embeddings", "position/token-type embeddings", "encoder weights", "head", "other")  # fmt: skip
GROUPS = (WORD, POSITION, ENCODER, HEAD, OTHER)


def group_of(text: str) -> str:
    """The group a name (an initializer's, with its readers' node names) points at."""
    t = text.lower()
    if "word_embeddings" in t:
        return WORD
    if "position_embeddings" in t or "token_type_embeddings" in t:
        return POSITION
    if "classifier" in t or "pooler" in t:
        return HEAD
    if "encoder" in t or "layer." in t:
        return ENCODER
    return OTHER


def tensor_bytes(init: onnx.TensorProto) -> int:
    """Bytes the tensor takes in the file (packed int4 counts as stored, not unpacked)."""
    if init.raw_data:
        return len(init.raw_data)
    return int(numpy_helper.to_array(init).nbytes)


def breakdown(path: Path) -> dict[str, dict]:
    """{group: {"bytes": n, "tensors": k, "dtypes": {dtype name, ...}}} over the initializers."""
    model = onnx.load(str(path))
    readers: dict[str, list[str]] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            readers[name].append(node.name)
    out = {g: {"bytes": 0, "tensors": 0, "dtypes": set()} for g in GROUPS}
    for init in model.graph.initializer:
        g = group_of(init.name)
        if g == OTHER:  # e.g. onnx::MatMul_123 (a transposed weight): who reads it says
            g = group_of(" ".join(readers.get(init.name, [])))
        out[g]["bytes"] += tensor_bytes(init)
        out[g]["tensors"] += 1
        out[g]["dtypes"].add(onnx.TensorProto.DataType.Name(init.data_type).lower())
    return out


def corpus_vocabulary(seq: int) -> tuple[int, int]:
    """(distinct token ids BBC's articles use within their first `seq` tokens, vocabulary size)."""
    from transformers import AutoTokenizer

    from engine.data.builtin import bbc_news
    from engine.models.builtin import minilm_path

    articles, _ = bbc_news()
    tok = AutoTokenizer.from_pretrained(minilm_path())
    ids = tok(list(articles), truncation=True, max_length=seq)["input_ids"]
    return len({i for row in ids for i in row}), tok.vocab_size


def print_breakdown(name: str, path: Path) -> dict[str, dict]:
    """The file's bytes by group and the word-embedding table's share; the groups."""
    parts, total = breakdown(path), path.stat().st_size
    print(f"\nWhere the bytes of '{name}' are ({path.name}, {total / 1e6:.2f} MB on disk):")
    for g in GROUPS:
        p = parts[g]
        if p["tensors"]:
            print(f"   {g:<32}{p['bytes'] / 1e6:>8.2f} MB {p['bytes'] / total:>6.1%}  "
                  f"{p['tensors']:>3} tensors, {', '.join(sorted(p['dtypes']))}")  # fmt: skip
    word = parts[WORD]
    print(f"   the word-embedding table is {word['bytes'] / total:.0%} of the file, stored as "
          f"{', '.join(sorted(word['dtypes']))}")  # fmt: skip
    return parts


def print_remedy(path: Path, parts: dict[str, dict], hidden: int, seq: int) -> None:
    """What would remove the embedding table's bytes, with the sizes it would give."""
    total, word = path.stat().st_size, parts[WORD]["bytes"]
    used, vocab = corpus_vocabulary(seq)
    kept = word * used / vocab
    print(f"   BBC's articles use {used:,} of the {vocab:,} tokens (first {seq} tokens of each): "
          f"vocabulary pruning (keep those rows and remap the tokenizer's ids; not a workbench "
          f"step) would leave {kept / 1e6:.2f} MB of embeddings and a "
          f"{(total - word + kept) / 1e6:.2f} MB file ({kept / hidden / used:.0f} byte(s) a weight "
          f"as stored here); in int4 blocks (the rows '+ int4 embeddings') the whole table "
          f"takes half a byte a weight plus a scale (and zero point) per block")  # fmt: skip
