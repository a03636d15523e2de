"""Per-node int8 error on MiniLM after the transformer fusions, and what keeping the fused
attention in fp32 buys.

The workbench's int8_dynamic step (per-channel, optimize: transformer) on MiniLM's
TorchScript export: its per-node error list (fused Attention -> QAttention nodes named by
their module, EmbedLayerNormalization, the dense MatMuls), then the same step with
exclude_nodes "bert.encoder.layer.*.attention.self" (every Attention stays fp32). Per-node
error runs on 8 BBC articles x 128 tokens (the step's example inputs); cosine is the mean
over 48 BBC sentences of mean-pooled embeddings against onnxruntime fp32.

    .venv/bin/python bench/node_error_minilm.py

About two minutes on 2 cores (export, two quantizations with per-node error).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quantize_minilm_rows import (  # noqa: E402
    FUSED_INT8,
    INPUTS,
    export_fp32,
    load_minilm,
    mean_cosine,
    mean_pool,
    texts,
)

from engine.methods.base import ArtifactContext  # noqa: E402
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic  # noqa: E402

KEEP_ATTENTION = ("bert.encoder.layer.*.attention.self",)


def embeddings(path: Path, tok, sentences: list[str]) -> np.ndarray:  # noqa: ANN001
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for i in range(0, len(sentences), 8):
        enc = tok(sentences[i : i + 8], padding=True, truncation=True, max_length=128, return_tensors="np")
        feeds = {n: enc[n].astype(np.int64) for n in INPUTS}
        out.append(mean_pool(sess.run(None, feeds)[0], feeds["attention_mask"]))
    return np.concatenate(out)


def main() -> None:
    encoder, tok = load_minilm()
    sentences, timed, _ = texts()
    batch = tok(timed, truncation=True, max_length=128, padding="max_length", return_tensors="np")
    feeds = {n: batch[n].astype(np.int64) for n in INPUTS}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_fp32(encoder, feeds, Path(tmp) / "fp32.onnx")
        ref = embeddings(fp32, tok, sentences)
        for label, cfg in (("fused int8", FUSED_INT8),
                           ("attention kept fp32", replace(FUSED_INT8, exclude_nodes=KEEP_ATTENTION))):  # fmt: skip
            actx = ArtifactContext(onnx_path=fp32, out_dir=Path(tmp) / label.replace(" ", "_"),
                                   task="generic", input_names=list(INPUTS), example_feeds=feeds)  # fmt: skip
            res = quantize_int8_dynamic(cfg, actx)
            cos = mean_cosine(ref, embeddings(res.path, tok, sentences))
            print(f"== {label}: fused {res.summary['fused']}, mean cosine {cos:.5f}")
            for e in res.summary["node_errors"]:
                print(f"  {e['op_type']:24s} {e['layer']:44s} SQNR {e['sqnr_db']:6.2f} dB"
                      f"  local {e['local_sqnr_db']:6.2f} dB  {e['node']}")  # fmt: skip


if __name__ == "__main__":
    main()
