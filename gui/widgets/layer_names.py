"""Short, readable layer names for plot axes and selectors."""

from __future__ import annotations

import re

# Shorter names for common container parts so 24+ layer names fit on an axis.
_SHORT_PARTS = {
    "blocks": "b", "layers": "L", "layer": "L", "h": "h", "encoder": "enc", "decoder": "dec",
    "attention": "attn", "self_attn": "attn", "self": "", "output": "out",
    "intermediate": "inter", "transformer": "", "model": "", "bert": "", "roberta": "",
}


def strip_common_prefix(names: list[str]) -> list[str]:
    """Drop dotted parts every name shares ('bert.encoder.layer.0.x' -> 'layer.0.x')."""
    if len(names) < 2:
        return list(names)
    split = [n.split(".") for n in names]
    common = 0
    while all(len(p) > common + 1 and p[common] == split[0][common] for p in split):
        common += 1
    if common and split[0][common].isdigit():
        common -= 1  # keep 'layer' in 'layer.0.x' so the short name reads 'L0.x'
    return [".".join(p[common:]) for p in split]


def short_layer_name(name: str, limit: int = 22) -> str:
    """'blocks.0.attn.qkv' -> 'b0.attn.qkv'; long names keep their informative tail."""
    parts = [_SHORT_PARTS.get(p, p) for p in name.split(".")]
    text = ".".join(p for p in parts if p)
    text = re.sub(r"(^|\.)([A-Za-z]{1,3})\.(\d+)", r"\1\2\3", text)  # b.0 -> b0
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
