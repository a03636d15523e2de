"""The structured_prune step's settings (forms are generated from these fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config_fields import option
from engine.methods.prune.masks import DEFAULT_EXCLUDE

TARGETS = ("ffn", "heads", "channels")
IMPORTANCES = ("auto", "l1", "l2", "taylor")


@dataclass(frozen=True)
class StructuredPruneConfig:
    target: str = option(
        "ffn",
        choices=TARGETS,
        help="what loses whole units: ffn = hidden neurons of FFN/MLP blocks, heads = attention "
        "heads (whole key/value groups under grouped-query attention), channels = conv "
        "output channels",
    )
    amount: float = option(
        0.5,
        min=0.0,
        max=1.0,
        max_exclusive=True,
        help="fraction of the targeted units removed (neurons, heads or channels)",
    )
    importance: str = option(
        "auto",
        choices=IMPORTANCES,
        help="how units are ranked: auto = taylor for a causal LM with data, else l1; L1 or L2 "
        "norm of all their coupled weights; or Taylor |w * dL/dw| from a few training batches "
        "(needs data; magnitude alone can wreck an LM)",
    )
    scope: str = option(
        "layer",
        choices=("global", "layer"),
        help="layer: the same fraction in every block (uniform widths); global: one ranking over "
        "all blocks, so the least important blocks lose more (at least one unit stays in each)",
    )
    include: tuple[str, ...] = option(
        default_factory=lambda: ("*",),
        help="block or layer name patterns to prune (fnmatch, e.g. *.layer.[0-2].*)",
    )
    exclude: tuple[str, ...] = option(
        default_factory=lambda: DEFAULT_EXCLUDE,
        help="name patterns left whole (embeddings and the output head are never pruned)",
    )
    calibration_batches: int = option(
        4,
        min=1,
        max=1000,
        help="training batches whose gradients Taylor importance sums",
        shown_when={"importance": ("taylor", "auto")},
    )
    round_to: int | None = option(
        None,
        min=1,
        max=4096,
        help="keep FFN neuron and conv channel counts multiples of this (e.g. 8 for fast "
        "kernels); empty = exact amount",
        advanced=True,
    )
    ffn_modules: tuple[str, ...] = option(
        default_factory=tuple,
        label="FFN modules",
        help="your model's FFN layer names inside one block, up (and gate) first, down last, "
        "e.g. [w_in, w_out] (empty = the known layouts)",
        advanced=True,
    )
    attention_modules: tuple[str, ...] = option(
        default_factory=tuple,
        help="your model's attention layer names inside one attention module: [q, k, v, out] or "
        "a fused [qkv, out] (empty = the known layouts)",
        advanced=True,
    )
    head_count_attr: str = option(
        "",
        label="Head count attribute",
        help="attribute of your attention module holding its head count, e.g. n_heads (empty = "
        "n_head, num_heads, num_attention_heads, n_heads)",
        advanced=True,
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        if not self.include:
            return [("include", "is empty; use ['*'] to target every block")]
        if len(self.ffn_modules) == 1:
            return [("ffn_modules", "needs at least two names: the up projection(s) then the "
                     "down projection, e.g. [w_in, w_out]")]
        if len(self.attention_modules) not in (0, 2, 4):
            return [("attention_modules", f"has {len(self.attention_modules)} names; give "
                     "[q, k, v, out] or a fused [qkv, out]")]
        return []

    def notes(self, module: Any, task: str, has_data: bool | None) -> list[str]:
        """What this step will do that differs from what was asked, and risky choices (shown
        by the estimate before a run and recorded on the card)."""
        from engine.methods.prune.structured_notes import structured_notes

        return structured_notes(self, module, task, has_data)
