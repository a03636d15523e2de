"""Distillation losses: soft labels (KD), hidden states and attention, as pure functions.

Each takes the student's tensor (with its graph) and the teacher's (no graph) and returns a
scalar. `mask` is the batch's attention_mask [B, T] (1 = real token): padding never counts.
Only torch is imported: registry discovery imports every module of this package.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CHUNK = 1024  # token positions per piece of the vocabulary-wide KD of a causal LM


def _kl_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Per-row KL(P_T ‖ P_S) of [N, V] logits at temperature T, and both distributions."""
    log_s = F.log_softmax(student.float() / temperature, dim=-1)
    log_t = F.log_softmax(teacher.float() / temperature, dim=-1)
    p_t = log_t.exp()
    # classes the teacher rules out (−inf logits: an offline teacher's dropped classes) add 0
    per_row = torch.where(p_t > 0, p_t * (log_t - log_s), 0.0).sum(dim=-1)
    return per_row, log_s.exp(), p_t


class _ChunkedKL(torch.autograd.Function):
    """Σ_rows w · KL(P_T ‖ P_S) over [N, V] logits, `chunk` rows at a time.

    The gradient, w · (P_S − P_T) / T per row, is written into one logits-sized tensor
    during the forward pass, so no chunk's softmax outlives its own iteration: peak memory is
    the logits, that gradient and one chunk's float32 temporaries, at any sequence length
    (the approach of fused/chunked cross-entropy kernels).
    """

    @staticmethod
    def forward(ctx, student, teacher, weights, temperature, chunk):  # noqa: ANN001, ANN205
        need_grad = ctx.needs_input_grad[0]
        grad = torch.empty_like(student) if need_grad else None
        total = student.new_zeros((), dtype=torch.float32)
        for start in range(0, student.size(0), chunk):
            rows = slice(start, start + chunk)
            per_row, p_s, p_t = _kl_rows(student[rows], teacher[rows], temperature)
            w = weights[rows]
            total += (per_row * w).sum()
            if grad is not None:
                grad[rows] = ((p_s - p_t) * (w[:, None] / temperature)).to(grad.dtype)
        ctx.save_for_backward(grad if grad is not None else student.new_empty(0))
        return total

    @staticmethod
    def backward(ctx, grad_total):  # noqa: ANN001, ANN205
        (grad,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        return grad * grad_total.to(grad.dtype), None, None, None, None


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    mask: torch.Tensor | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Soft-label KD: T² · mean over counted positions of KL(P_T ‖ P_S).

    P = softmax(logits / T) over the last dimension; KL(P_T ‖ P_S) = Σ_v P_T log(P_T / P_S).
    The T² keeps the gradient's size independent of T (Hinton et al. 2015). Classifier
    logits [B, C] count per sample; causal-LM logits [B, T, V] count per token where `mask`
    is 1. Rows go through `chunk` positions at a time with the gradient formed on the way
    (_ChunkedKL), so memory beyond the logits stays one logits-sized gradient plus chunk × V
    floats at any sequence length; the result does not depend on `chunk`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ: they must share the label space")
    vocab = student_logits.size(-1)
    s = student_logits.reshape(-1, vocab)
    t = teacher_logits.detach().reshape(-1, vocab)
    if mask is None:
        weights = torch.ones(s.size(0), device=s.device)
    else:
        weights = mask.reshape(-1).to(device=s.device, dtype=torch.float32)
    total = _ChunkedKL.apply(s, t, weights, float(temperature), max(1, int(chunk)))
    return total / weights.sum().clamp(min=1.0) * temperature**2


def hidden_loss(
    student_h: torch.Tensor,
    teacher_h: torch.Tensor,
    kind: Literal["mse", "cosine"] = "mse",
    projection: nn.Linear | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hidden-state KD between one student block's output and its mapped teacher block's.

    h_S [B, T, d_S] is first projected to the teacher's width (h_S W + b) when `projection`
    is given (widths differ). mse: mean over counted tokens of ‖h_S − h_T‖² / d_T;
    cosine: mean over counted tokens of 1 − cos(h_S, h_T). `mask` [B, T] picks the tokens.
    """
    if projection is not None:
        student_h = projection(student_h)
    teacher_h = teacher_h.detach()
    if student_h.shape != teacher_h.shape:
        raise ValueError(f"student hidden states {tuple(student_h.shape)} and teacher's "
                         f"{tuple(teacher_h.shape)} differ; a projection maps the widths")
    s, t = student_h.float(), teacher_h.float()
    if kind == "mse":
        per_token = (s - t).pow(2).mean(dim=-1)
    elif kind == "cosine":
        per_token = 1.0 - F.cosine_similarity(s, t, dim=-1)
    else:
        raise ValueError(f"hidden loss kind must be mse or cosine, got {kind!r}")
    return _masked_mean(per_token, mask)


def attention_loss(
    student_attn: torch.Tensor, teacher_attn: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """MiniLM-style attention KD: KL(A_T ‖ A_S) over keys, heads averaged.

    A [B, H, T, T] are attention probabilities (each query row sums to 1). With equal head
    counts the KL is taken head by head and averaged (MiniLM); otherwise between the
    head-averaged distributions. Mean over the query rows `mask` [B, T] counts.

    Where the probabilities come from: the built-in tiny-gpt / tiny-bert compute them inside
    SelfAttention (engine/models/transformer_blocks.py), so objective.py rebuilds them from
    hooks on the last block's attention; Hugging Face models return them only with eager
    attention (attn_implementation="eager"; SDPA/flash attention never form them), and
    objective.py switches both models to eager when attention KD is on. A model exposing
    none is refused with an error naming it (objective.AttentionCapture).
    """
    teacher_attn = teacher_attn.detach()
    if student_attn.shape[0] != teacher_attn.shape[0] or student_attn.shape[2:] != teacher_attn.shape[2:]:
        raise ValueError(f"student attention {tuple(student_attn.shape)} and teacher attention "
                         f"{tuple(teacher_attn.shape)} cover different tokens")
    s, t = student_attn.float(), teacher_attn.float()
    if s.size(1) != t.size(1):
        s, t = s.mean(dim=1, keepdim=True), t.mean(dim=1, keepdim=True)
    # masked keys have probability 0 in both: xlogy gives 0·log 0 = 0, the clamp keeps
    # log P_S finite where P_S underflowed to 0 (and its gradient 0 there)
    per_row = (torch.xlogy(t, t) - t * s.clamp(min=1e-12).log()).sum(dim=-1).mean(dim=1)
    return _masked_mean(per_row, mask)


def default_layer_map(n_student: int, n_teacher: int) -> list[int]:
    """Teacher block for each student block: evenly spaced, the last onto the last.

    Student block i's output is compared with teacher block round((i + 1) · n_T / n_S) − 1's,
    e.g. 3 of 6 -> [1, 3, 5] (the outputs that feed the blocks a keep-every-other student
    copies next), 2 of 4 -> [1, 3].
    """
    if n_student < 1 or n_teacher < 1:
        raise ValueError(f"layer map needs blocks on both sides, got {n_student} and {n_teacher}")
    # round half up in integers: (2x + 1) // 2
    return [max(0, (2 * (i + 1) * n_teacher + n_student) // (2 * n_student) - 1)
            for i in range(n_student)]  # fmt: skip


def agreement(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Top-1 match rate between student and teacher over the counted positions (detached)."""
    same = (student_logits.detach().argmax(-1) == teacher_logits.argmax(-1)).float()
    return _masked_mean(same, mask)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of values over the positions mask counts (all when mask is None or shapes differ)."""
    if mask is None or mask.shape != values.shape:
        return values.mean()
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)
