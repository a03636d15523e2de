"""Which channels structured pruning removed, per layer, kept on the step's card record.

The per-layer diff of two variants (engine/compare/layer_diff.py) names the removed neurons from
this record instead of only counting them from the shapes. Indices are the layer's own channels
before the cut (a fused q|k|v projection lists its q, k and v slices), written as ranges
("0-3,7,9-12") so a BERT-base FFN cut stays a short string on the card.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.methods.prune.structured_targets import Site


def ranges_text(ids: list[int]) -> str:
    """Sorted ids as 'a-b,c,...' runs."""
    out: list[str] = []
    ordered = sorted(set(ids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_ranges(text: str) -> list[int]:
    """The ids ranges_text wrote (ValueError on anything else)."""
    ids: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        ids.extend(range(int(lo), int(hi or lo) + 1))
    return ids


def _size(layer: nn.Module, out: bool) -> int | None:
    w = getattr(layer, "weight", None)
    if w is None or w.dim() < 2:
        return None
    # a Linear's weight is [out, in]; HF's Conv1D (GPT-2) stores it [in, out]
    conv1d = type(layer).__name__ == "Conv1D"
    return int(w.shape[(1 if conv1d else 0) if out else (0 if conv1d else 1)])


def removed_record(module: nn.Module, sites: list[Site], plan: list[list[int]]) -> dict[str, Any]:
    """{layer name: {"dim": "out"|"in", "of": channels before, "removed": ranges}}, before the cut."""
    names = {m: n for n, m in module.named_modules()}
    record: dict[str, Any] = {}
    for site, units in zip(sites, plan, strict=True):
        if not units:
            continue
        for layer, loses_out in site.cuts:
            if layer in site.expected:
                channels = site.layer_channels(layer, units)
            elif layer is site.root:
                channels = site.channels(units)
            else:  # a coupled layer whose channel mapping the site does not know
                continue
            size = _size(layer, loses_out)
            if layer in names and size is not None:
                record[names[layer]] = {"dim": "out" if loses_out else "in", "of": size,
                                        "removed": ranges_text(channels)}
    return record
