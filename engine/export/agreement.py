"""How closely an artifact's outputs follow the fp32 file's: max |diff|, top-1, cosine.

Compared on the same inputs in onnxruntime, file against file, so the numbers describe
what quantization (or fp16) did and nothing else. Positions the attention mask marks as
padding are left out: their outputs are never read, and a quantized model may differ
there freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.export.runtime import feeds_for, make_session, max_abs_diff, ort_logits


def _rows(out: np.ndarray) -> np.ndarray:
    """The output as rows of its last dimension (a 1-D output is one row)."""
    return out.reshape(1, -1) if out.ndim < 2 else out.reshape(-1, out.shape[-1])


def _keep(out: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """Row selector from an attention mask when the output has one row per token."""
    if mask is None or out.ndim < 3 or tuple(out.shape[:2]) != tuple(mask.shape):
        return None
    return mask.reshape(-1).astype(bool)


def row_cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Cosine of each pair of rows; two zero rows agree (1), a zero row against another is 0."""
    a, b = ref.astype(np.float64), got.astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    dot = (a * b).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = dot / (na * nb)
    both_zero = (na == 0) & (nb == 0)
    return np.where(both_zero, 1.0, np.where((na == 0) | (nb == 0), 0.0, cos))


def _output(session: ort.InferenceSession, feeds: dict[str, np.ndarray], name: str | None) -> np.ndarray:
    if name is None:
        return ort_logits(session, feeds)
    return np.asarray(session.run([name], feeds)[0])


class AgreementTally:
    """Running max |diff|, top-1 agreement and mean row cosine over batches."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.agree = 0
        self.cos_sum = 0.0
        self.rows = 0

    def add(self, ref: np.ndarray, got: np.ndarray, mask: np.ndarray | None = None) -> None:
        """One batch: the reference output, the artifact's, and the attention mask if any."""
        if ref.shape != got.shape:
            raise ValueError(f"artifact output {got.shape} vs fp32 output {ref.shape}")
        keep = _keep(ref, mask)
        a, b = _rows(ref), _rows(got)
        if keep is not None:
            a, b = a[keep], b[keep]
        if not len(a):
            return
        self.worst = max(self.worst, max_abs_diff(a, b))
        self.agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        self.cos_sum += float(row_cosines(a, b).sum())
        self.rows += len(a)

    def result(self) -> dict[str, float]:
        """{"max_abs_diff", "top1_agreement", "cosine"}; raises when nothing was compared."""
        if self.rows == 0:
            raise ValueError("no output rows to compare (empty batches, or all padding)")
        return {
            "max_abs_diff": self.worst,
            "top1_agreement": self.agree / self.rows,
            "cosine": self.cos_sum / self.rows,
        }


def agreement(
    ref_path: str | Path,
    path: str | Path,
    feeds_batches: Iterable[Mapping[str, np.ndarray]],
    session_ref: ort.InferenceSession | None = None,
    session: ort.InferenceSession | None = None,
    *,
    output: str | None = None,
) -> dict[str, float]:
    """Outputs of the file at `path` against those of `ref_path` (the fp32 file) on each batch.

    `feeds_batches`: named numpy inputs (each graph takes those it knows, so an ids-only
    artifact still runs). The compared output is "logits" when there is one, else the
    first (a sentence-embedding graph's embeddings); `output` names another. Cosine is the mean over rows of the
    last dimension: per token for [batch, seq, dim], per sample for [batch, dim].
    """
    session_ref = session_ref or make_session(ref_path)
    session = session or make_session(path)
    tally = AgreementTally()
    for feeds in feeds_batches:
        ref, got = (_output(s, feeds_for(s, feeds, list(feeds)), output) for s in (session_ref, session))
        mask = feeds.get("attention_mask")
        tally.add(ref, got, None if mask is None else np.asarray(mask))
    return tally.result()
