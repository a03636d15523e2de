"""Where a model can be structurally pruned: FFN blocks, attention modules, conv channel groups.

A `Site` is one place that loses whole units together: an FFN block loses hidden neurons
(rows of its up/gate projections and columns of its down projection), an attention module
loses whole heads (under grouped-query attention, a key/value head with all the query heads
that share it), a conv group loses output channels. Every site is pruned through one layer's
channels (`root`); torch-pruning's dependency graph carries the cut to every coupled layer.

FFN and attention sites are recognised by their submodule names (the layouts of the built-in
models, BERT/MiniLM, Llama-style, GPT-2's Conv1D c_fc/c_proj and fused c_attn, a few other
common Hugging Face families, and names the config gives: structured_layouts); conv sites
come from the dependency graph itself, because residual connections couple convolutions that
no naming could tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch_pruning as tp
from torch import nn

from engine.methods.prune.masks import matches
from engine.methods.prune.structured_layouts import (  # noqa: F401 (re-exported: layout names)
    DEFAULT_LAYOUTS,
    HEAD_ATTRS,
    HEAD_SIZE_ATTRS,
    KV_HEAD_ATTRS,
    Layouts,
    dense,
    in_features,
    is_conv1d,
    out_features,
)
from engine.methods.prune.structured_trace import (  # noqa: F401 (re-exported: the tracing helpers)
    CONV_TYPES,
    build_graph,
    eval_mode,
    probe_inputs,
    traceable,
)

UNIT_NAMES = {"ffn": "FFN neurons", "heads": "attention heads", "channels": "conv channels"}

@dataclass
class Site:
    """One place that loses whole units together, cut through `root`'s channels."""

    kind: str  # ffn | heads | channels
    name: str  # the module that holds it, e.g. blocks.0.mlp
    owner: nn.Module
    root: nn.Module
    root_out: bool  # units index root's output channels (conv) or its inputs (down / out proj)
    units: int
    unit_size: int  # root channels per unit (head_dim x query heads per unit for attention)
    layers: dict[str, nn.Module]  # Linear/Conv layers it is named by (losing outputs, or all)
    cuts: list[tuple[nn.Module, bool]]  # every layer cut with it: (layer, loses outputs?)
    q_per_unit: int = 1  # attention: query heads per unit (>1 under grouped-query attention)
    head_dim: int = 0
    expected: dict[nn.Module, int] = field(default_factory=dict)  # layer -> channels cut per unit
    # fused q|k|v projection cut by the site itself: torch-pruning's index mapping does not
    # follow a split along the last dimension (GPT-2's c_attn), so the graph is not asked
    fused: nn.Module | None = None
    head_attrs: tuple[str, ...] = HEAD_ATTRS
    interleaved: bool = False  # fused q, k, v per head ([heads, 3, head_dim]) instead of q|k|v

    @property
    def local(self) -> bool:
        """Scored and/or cut here, not by torch-pruning (which has no Conv1D importance)."""
        return self.fused is not None or any(is_conv1d(m) for m, _ in self.cuts)

    def layer_channels(self, layer: nn.Module, unit_ids: list[int]) -> list[int]:
        """Channels of `layer` these units own (q, k and v slices of a fused projection)."""
        n = self.expected[layer]
        if layer is self.fused and self.interleaved:
            return [u * n + i for u in sorted(unit_ids) for i in range(n)]
        if layer is self.fused:
            width, d = self.units * self.head_dim, self.head_dim
            return [s * width + u * d + i for s in range(3) for u in sorted(unit_ids)
                    for i in range(d)]  # fmt: skip
        return [u * n + i for u in sorted(unit_ids) for i in range(n)]

    def channels(self, unit_ids: list[int]) -> list[int]:
        """Root channel indices of these units."""
        return [u * self.unit_size + i for u in sorted(unit_ids) for i in range(self.unit_size)]

    def pruning_fn(self, graph: tp.DependencyGraph) -> object:
        """torch-pruning's function that cuts the root's channels on the right side."""
        pruner = graph.get_pruner_of_module(self.root)
        return pruner.prune_out_channels if self.root_out else pruner.prune_in_channels


def ffn_sites(module: nn.Module, layouts: Layouts = DEFAULT_LAYOUTS) -> list[Site]:
    """Every FFN/MLP block with a known layout: up (and gate) projections feeding a down one."""
    sites, seen = [], set()
    for name, owner in module.named_modules():
        for ups, down_name in layouts.ffn:
            down = dense(owner, down_name)
            up_layers = [dense(owner, u) for u in ups]
            if down is None or id(down) in seen or any(u is None for u in up_layers):
                continue
            if any(out_features(u) != in_features(down) for u in up_layers):
                continue
            prefix = f"{name}." if name else ""
            layers = {f"{prefix}{u}": layer for u, layer in zip(ups, up_layers, strict=True)}
            layers[f"{prefix}{down_name}"] = down
            cuts = [(u, True) for u in up_layers] + [(down, False)]
            expected = {layer: 1 for layer in layers.values()}
            sites.append(
                Site("ffn", name, owner, down, False, in_features(down), 1, layers, cuts,
                     expected=expected)
            )  # fmt: skip
            seen.add(id(down))
            break
    return sites


def _int_attr(module: nn.Module, names: tuple[str, ...]) -> int | None:
    for n in names:
        v = vars(module).get(n)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _out_proj(
    module: nn.Module, name: str, owner: nn.Module, layouts: Layouts
) -> tuple[str, nn.Module] | None:
    """The attention output projection: a child, or BERT's sibling `output.dense`."""
    for child in layouts.out:
        layer = dense(owner, child)
        if layer is not None:
            return f"{name}.{child}", layer
    parent, _, leaf = name.rpartition(".")
    if leaf == "self":
        layer = dense(module, f"{parent}.output.dense")
        if layer is not None:
            return f"{parent}.output.dense", layer
    return None


def attention_sites(module: nn.Module, layouts: Layouts = DEFAULT_LAYOUTS) -> list[Site]:
    """Every attention module with q/k/v (or fused qkv) projections and a known head layout."""
    sites = []
    for name, owner in module.named_modules():
        if not name:
            continue
        site = (_fused_site(module, name, owner, layouts)
                or _interleaved_site(module, name, owner, layouts)
                or _split_site(module, name, owner, layouts))  # fmt: skip
        if site is not None:
            sites.append(site)
    return sites


def _fused_site(module: nn.Module, name: str, owner: nn.Module, layouts: Layouts) -> Site | None:
    heads = _int_attr(owner, layouts.head_attrs)
    found = next(((n, m) for n in layouts.fused if (m := dense(owner, n)) is not None), None)
    out = _out_proj(module, name, owner, layouts)
    if found is None or heads is None or out is None or out_features(found[1]) % (3 * heads):
        return None
    qkv_name, qkv = found
    d = out_features(qkv) // 3 // heads
    out_name, proj = out
    if in_features(proj) != heads * d or proj is qkv:
        return None
    # the built-in models' nn.Linear qkv is split with chunk(), which the graph follows
    fused = None if qkv_name == "qkv" and isinstance(qkv, nn.Linear) else qkv
    layers = {f"{name}.{qkv_name}": qkv, out_name: proj}
    return Site("heads", name, owner, proj, False, heads, d, layers, [(qkv, True), (proj, False)],
                1, d, {qkv: 3 * d, proj: d}, fused, layouts.head_attrs)  # fmt: skip


def _interleaved_site(
    module: nn.Module, name: str, owner: nn.Module, layouts: Layouts
) -> Site | None:
    """GPT-NeoX / Falcon query_key_value: each head's q, k, v side by side; cut here."""
    d = _int_attr(owner, HEAD_SIZE_ATTRS)
    found = next(((n, m) for n in layouts.interleaved if (m := dense(owner, n)) is not None), None)
    out = _out_proj(module, name, owner, layouts)
    if found is None or d is None or out is None or out_features(found[1]) % (3 * d):
        return None
    (qkv_name, qkv), (out_name, proj) = found, out
    heads = out_features(qkv) // (3 * d)
    stated = _int_attr(owner, layouts.head_attrs)
    if in_features(proj) != heads * d or stated not in (None, heads):
        return None  # e.g. Falcon's multi-query layout: one shared key/value head
    layers = {f"{name}.{qkv_name}": qkv, out_name: proj}
    return Site("heads", name, owner, proj, False, heads, d, layers, [(qkv, True), (proj, False)],
                1, d, {qkv: 3 * d, proj: d}, qkv, layouts.head_attrs, True)  # fmt: skip


def _split_site(module: nn.Module, name: str, owner: nn.Module, layouts: Layouts) -> Site | None:
    for names in layouts.qkv:
        q, k, v = (dense(owner, n) for n in names)
        if q is not None and k is not None and v is not None:
            break
    else:
        return None
    out = _out_proj(module, name, owner, layouts)
    d = _int_attr(owner, ("head_dim", "attention_head_size"))
    if d is None:
        heads = _int_attr(owner, layouts.head_attrs)
        d = out_features(q) // heads if heads and out_features(q) % heads == 0 else None
    if out is None or d is None or out_features(q) % d or out_features(k) % d:
        return None
    out_name, o = out
    n_q, n_kv = out_features(q) // d, out_features(k) // d
    if (
        out_features(v) != out_features(k)
        or n_kv == 0
        or n_q % n_kv
        or in_features(o) != out_features(q)
    ):
        return None
    rep = n_q // n_kv  # query heads sharing one key/value head: they go together
    layers = {f"{name}.{n}": m for n, m in zip(names, (q, k, v), strict=True)}
    layers[out_name] = o
    cuts = [(q, True), (k, True), (v, True), (o, False)]
    expected = {q: rep * d, k: d, v: d, o: rep * d}
    return Site("heads", name, owner, o, False, n_kv, rep * d, layers, cuts, rep, d, expected,
                None, layouts.head_attrs)  # fmt: skip


def conv_sites(
    module: nn.Module, graph: tp.DependencyGraph, exclude: tuple[str, ...]
) -> list[Site]:
    """Coupled conv channel groups whose cut leaves the model's output and excluded layers whole."""
    names = {m: n for n, m in module.named_modules()}
    ignored = [m for m, n in names.items() if n and matches(n, exclude)]
    sites = []
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=list(CONV_TYPES)):
        root = group[0].dep.target.module
        if not isinstance(root, CONV_TYPES) or root.groups != 1:
            continue
        # a group nothing reads from (no layer loses inputs) is the model's output: never cut
        if not any(graph.is_in_channel_pruning_fn(dep.handler) for dep, _ in group):
            continue
        cuts: dict[tuple[nn.Module, bool], None] = {}  # ordered set: a conv can lose both sides
        for dep, _ in group:
            if isinstance(dep.target.module, nn.Module) and hasattr(dep.target.module, "weight"):
                cuts[(dep.target.module, graph.is_out_channel_pruning_fn(dep.handler))] = None
        # named by the convs that lose outputs: a Linear that only loses inputs is not "pruned"
        layers = {names[m]: m for m, out in cuts if out and isinstance(m, CONV_TYPES)}
        sites.append(Site("channels", names[root], root, root, True, root.out_channels, 1,
                          layers, list(cuts)))  # fmt: skip
    return sites


def removed_params(sites: list[Site], counts: list[int]) -> int:
    """Parameters removed when each site loses `counts` units (layers cut by two sites, like a
    conv losing outputs to one group and inputs to another, are counted once)."""
    out_frac: dict[nn.Module, float] = {}
    in_frac: dict[nn.Module, float] = {}
    for site, k in zip(sites, counts, strict=True):
        for layer, out in site.cuts:
            (out_frac if out else in_frac)[layer] = k / site.units
    total = 0.0
    for layer in {*out_frac, *in_frac}:
        fo, fi = out_frac.get(layer, 0.0), in_frac.get(layer, 0.0)
        for p in (getattr(layer, "weight", None), getattr(layer, "bias", None)):
            if isinstance(p, torch.Tensor):
                total += p.numel() * (1 - (1 - fo) * (1 - fi) if p.dim() > 1 else fo)
    return int(round(total))


def describe(sites: list[Site], n: int = 3) -> str:
    """First few site names with their layers, for messages."""
    parts = [f"{s.name or '(root)'} ({', '.join(list(s.layers)[:3])})" for s in sites[:n]]
    more = f" (+{len(sites) - n} more)" if len(sites) > n else ""
    return "; ".join(parts) + more
