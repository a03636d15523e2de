"""Per-layer diff of two variants' saved models: shape, parameters, sparsity, bit width,
weight change, and the output neurons / input columns structured pruning removed.

Both models load through engine.models (a variant's checkpoint folder, or what a baseline
was loaded from), never trusting a pickle unless the caller says so. Removed units are
counted from the shapes; which ones comes from the structured step's record on b's card
(`removed_channels`), used only where the layer's size in a matches what that step cut.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

_DTYPE_BITS = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16",
               torch.float64: "fp64", torch.int8: "int8", torch.uint8: "uint8"}  # fmt: skip


@dataclass(frozen=True)
class LayerRow:
    """One layer (a module holding a weight) as it is in variant a and in variant b."""

    name: str
    type: str
    shape_a: tuple[int, ...] | None  # None: the layer is not in that variant
    shape_b: tuple[int, ...] | None
    params_a: int | None
    params_b: int | None
    sparsity_a: float | None  # share of the weight's values that are exactly zero
    sparsity_b: float | None
    bits_a: str  # fp32 / fp16 / bf16, or int8 / int4 where a quantized file holds it so
    bits_b: str
    weight_change: float | None  # ‖Wb − Wa‖ / ‖Wa‖ where the shapes match
    out_removed: int | None  # output rows (neurons / channels) b lacks; negative: b has more
    in_removed: int | None  # input columns b lacks
    quant_error_b: float | None  # relative output error of b's quantized node, when measured
    removed_ids: str | None = None  # which channels b lacks ('0-3,7'), from the pruning record

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("shape_a", "shape_b"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d

    @property
    def removed_text(self) -> str:
        """'256 of 512 output neurons removed' (and input columns), '' when none."""
        parts = []
        if self.out_removed and self.shape_a:
            parts.append(f"{self.out_removed} of {self.shape_a[0]} {_out_unit(self.type)} removed")
        if self.in_removed and self.shape_a and len(self.shape_a) > 1:
            parts.append(f"{self.in_removed} of {self.shape_a[1]} inputs removed")
        if parts and self.removed_ids:
            ids = self.removed_ids.replace(",", ", ")
            parts[-1] += f": {ids if len(ids) <= 48 else ids[:47].rsplit(', ', 1)[0] + ', …'}"
        return "; ".join(parts)


def _out_unit(layer_type: str) -> str:
    return "channels" if layer_type.startswith("Conv") and layer_type != "Conv1D" else "output neurons"


def weight_layers(module: nn.Module) -> dict[str, nn.Module]:
    """Every module that holds its own weight tensor, by its dotted name."""
    out = {}
    for name, m in module.named_modules():
        w = getattr(m, "weight", None)
        if name and isinstance(w, torch.Tensor) and w.dim() >= 1:
            out[name] = m
    return out


def quantized_layers(card: dict[str, Any] | None) -> dict[str, tuple[str, float | None]]:
    """{PyTorch layer name: (bit width, relative error)} from the card's quantized files'
    per-node error records (the first file that names a layer wins)."""
    out: dict[str, tuple[str, float | None]] = {}
    for art in (card or {}).get("artifacts") or []:
        if not isinstance(art, dict):
            continue
        kind = str(art.get("kind") or "")
        bits = "int4" if "int4" in kind else "int8" if "int8" in kind else None
        for e in (art.get("summary") or {}).get("node_errors") or []:
            layer = e.get("layer") if isinstance(e, dict) else None
            if bits and layer and layer not in out:
                err = e.get("rel_error")
                out[str(layer)] = (bits, float(err) if isinstance(err, (int, float)) else None)
    return out


def _params(m: nn.Module | None) -> int | None:
    return None if m is None else sum(p.numel() for p in m.parameters(recurse=False))


def _sparsity(w: torch.Tensor | None) -> float | None:
    return None if w is None or w.numel() == 0 else float((w == 0).sum()) / w.numel()


def _change(wa: torch.Tensor | None, wb: torch.Tensor | None) -> float | None:
    if wa is None or wb is None or wa.shape != wb.shape:
        return None
    base = float(torch.linalg.vector_norm(wa.float()))
    diff = float(torch.linalg.vector_norm(wb.float() - wa.float()))
    return diff / base if base > 0 else (0.0 if diff == 0 else math.inf)


def _removed(sa: tuple[int, ...] | None, sb: tuple[int, ...] | None, dim: int) -> int | None:
    if sa is None or sb is None or len(sa) != len(sb) or len(sa) <= dim:
        return None
    return sa[dim] - sb[dim]


def _bits(w: torch.Tensor | None, name: str, quant: dict[str, tuple[str, float | None]]) -> str:
    if w is None:
        return "-"
    return quant[name][0] if name in quant else _DTYPE_BITS.get(w.dtype, str(w.dtype))


def removed_channels(card: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The structured step's record of removed channels per layer; {} unless exactly one step cut."""
    records = [s["removed_channels"] for s in (card or {}).get("steps") or []
               if isinstance(s, dict) and s.get("removed_channels")]
    return records[0] if len(records) == 1 else {}


def _ids(rec: dict[str, Any] | None, sa: tuple[int, ...] | None, dims: tuple[int, int]) -> str | None:
    """The record's ranges when a's layer has the size the step cut (else it cut another model)."""
    if not rec or sa is None or len(sa) < 2:
        return None
    dim = dims[0] if rec.get("dim") == "out" else dims[1]
    return rec.get("removed") if sa[dim] == rec.get("of") else None


def _row(name: str, ma: nn.Module | None, mb: nn.Module | None,
         qa: dict[str, tuple[str, float | None]], qb: dict[str, tuple[str, float | None]],
         cut: dict[str, dict[str, Any]] | None = None) -> LayerRow:
    wa = ma.weight.detach() if ma is not None else None
    wb = mb.weight.detach() if mb is not None else None
    sa = tuple(wa.shape) if wa is not None else None
    sb = tuple(wb.shape) if wb is not None else None
    # a Linear's weight is [out, in]; HF's Conv1D (GPT-2) stores it [in, out]
    out_dim, in_dim = (1, 0) if type(ma if ma is not None else mb).__name__ == "Conv1D" else (0, 1)
    return LayerRow(
        name=name, type=type(mb if mb is not None else ma).__name__, shape_a=sa, shape_b=sb,
        params_a=_params(ma), params_b=_params(mb), sparsity_a=_sparsity(wa),
        sparsity_b=_sparsity(wb), bits_a=_bits(wa, name, qa), bits_b=_bits(wb, name, qb),
        weight_change=_change(wa, wb), out_removed=_removed(sa, sb, out_dim),
        in_removed=_removed(sa, sb, in_dim), quant_error_b=qb.get(name, (None, None))[1],
        removed_ids=_ids((cut or {}).get(name), sa, (out_dim, in_dim)),
    )


def layer_diff(module_a: nn.Module, module_b: nn.Module, card_a: dict[str, Any] | None = None,
               card_b: dict[str, Any] | None = None) -> list[LayerRow]:
    """One row per layer in either model: a's layer order, then the layers only b has."""
    la, lb = weight_layers(module_a), weight_layers(module_b)
    qa, qb = quantized_layers(card_a), quantized_layers(card_b)
    cut = removed_channels(card_b)
    names = list(la) + [n for n in lb if n not in la]
    with torch.no_grad():
        return [_row(n, la.get(n), lb.get(n), qa, qb, cut) for n in names]


def variant_layer_diff(ws: Any, a: Any, b: Any, trust: bool = False) -> list[LayerRow]:
    """layer_diff of two stored variants (ModelLoadError, one line, when one cannot load)."""
    from engine.models.variant_source import load_variant
    from engine.recipe import ModelSpec

    ma = load_variant(ModelSpec(source="variant", path=a.id, trust=trust), ws).module
    mb = load_variant(ModelSpec(source="variant", path=b.id, trust=trust), ws).module
    return layer_diff(ma, mb, a.card, b.card)


def _rank(row: LayerRow) -> tuple[int, float]:
    # layers that appeared, vanished or changed shape first, then the largest weight change
    structural = row.shape_a != row.shape_b
    return (0 if structural else 1, -(row.weight_change or 0.0))


def top_changes(rows: list[LayerRow], limit: int | None = 20) -> list[LayerRow]:
    """The rows that differ, most changed first (unchanged layers left out)."""
    changed = [r for r in rows if r.shape_a != r.shape_b or (r.weight_change or 0.0) > 0
               or r.sparsity_a != r.sparsity_b or r.bits_a != r.bits_b]
    return sorted(changed, key=_rank)[:limit]
