"""Where a model can be structurally pruned: FFN blocks, attention modules, conv channel groups.

A `Site` is one place that loses whole units together: an FFN block loses hidden neurons
(rows of its up/gate projections and columns of its down projection), an attention module
loses whole heads (under grouped-query attention, a key/value head with all the query heads
that share it), a conv group loses output channels. Every site is pruned through one layer's
channels (`root`); torch-pruning's dependency graph carries the cut to every coupled layer.

FFN and attention sites are recognised by their submodule names (the layouts of the built-in
models, BERT/MiniLM, Llama-style and a few other common Hugging Face families); conv sites
come from the dependency graph itself, because residual connections couple convolutions that
no naming could tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch_pruning as tp
from torch import nn

from engine.methods.masks import matches
from engine.methods.structured_trace import (  # noqa: F401 (re-exported: the tracing helpers)
    CONV_TYPES,
    build_graph,
    eval_mode,
    probe_inputs,
    traceable,
)

UNIT_NAMES = {"ffn": "FFN neurons", "heads": "attention heads", "channels": "conv channels"}

# (up/gate projections, down projection) relative to the module that holds the FFN
FFN_LAYOUTS = (
    (("gate_proj", "up_proj"), "down_proj"),  # Llama, Mistral, Qwen
    (("w1", "w3"), "w2"),  # Mixtral-style experts
    (("up_proj",), "down_proj"),
    (("fc",), "proj"),  # built-in tiny models
    (("fc1",), "fc2"),  # OPT, CLIP, Phi
    (("intermediate.dense",), "output.dense"),  # BERT, RoBERTa, MiniLM
    (("lin1",), "lin2"),  # DistilBERT
    (("dense_h_to_4h",), "dense_4h_to_h"),  # GPT-NeoX, Falcon
)
QKV_NAMES = (("q_proj", "k_proj", "v_proj"), ("query", "key", "value"), ("q_lin", "k_lin", "v_lin"))
OUT_NAMES = ("o_proj", "out_proj", "out_lin", "proj")
HEAD_ATTRS = ("n_head", "num_heads", "num_attention_heads", "n_heads")
KV_HEAD_ATTRS = ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "n_kv_head")


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

    def channels(self, unit_ids: list[int]) -> list[int]:
        """Root channel indices of these units."""
        return [u * self.unit_size + i for u in sorted(unit_ids) for i in range(self.unit_size)]

    def pruning_fn(self, graph: tp.DependencyGraph) -> object:
        """torch-pruning's function that cuts the root's channels on the right side."""
        pruner = graph.get_pruner_of_module(self.root)
        return pruner.prune_out_channels if self.root_out else pruner.prune_in_channels


def _linear(module: nn.Module, path: str) -> nn.Linear | None:
    try:
        sub = module.get_submodule(path)
    except AttributeError:
        return None
    return sub if isinstance(sub, nn.Linear) else None


def ffn_sites(module: nn.Module) -> list[Site]:
    """Every FFN/MLP block with a known layout: up (and gate) projections feeding a down one."""
    sites, seen = [], set()
    for name, owner in module.named_modules():
        for ups, down_name in FFN_LAYOUTS:
            down = _linear(owner, down_name)
            up_layers = [_linear(owner, u) for u in ups]
            if down is None or id(down) in seen or any(u is None for u in up_layers):
                continue
            if any(u.out_features != down.in_features for u in up_layers):
                continue
            prefix = f"{name}." if name else ""
            layers = {f"{prefix}{u}": layer for u, layer in zip(ups, up_layers, strict=True)}
            layers[f"{prefix}{down_name}"] = down
            cuts = [(u, True) for u in up_layers] + [(down, False)]
            expected = {layer: 1 for layer in layers.values()}
            sites.append(
                Site("ffn", name, owner, down, False, down.in_features, 1, layers, cuts,
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


def _out_proj(module: nn.Module, name: str, owner: nn.Module) -> tuple[str, nn.Linear] | None:
    """The attention output projection: a child, or BERT's sibling `output.dense`."""
    for child in OUT_NAMES:
        layer = _linear(owner, child)
        if layer is not None:
            return f"{name}.{child}", layer
    parent, _, leaf = name.rpartition(".")
    if leaf == "self":
        layer = _linear(module, f"{parent}.output.dense")
        if layer is not None:
            return f"{parent}.output.dense", layer
    return None


def attention_sites(module: nn.Module) -> list[Site]:
    """Every attention module with q/k/v (or fused qkv) projections and a known head layout."""
    sites = []
    for name, owner in module.named_modules():
        if not name:
            continue
        site = _fused_site(module, name, owner) or _split_site(module, name, owner)
        if site is not None:
            sites.append(site)
    return sites


def _fused_site(module: nn.Module, name: str, owner: nn.Module) -> Site | None:
    qkv = _linear(owner, "qkv")
    heads = _int_attr(owner, HEAD_ATTRS)
    out = _out_proj(module, name, owner)
    if qkv is None or heads is None or out is None or qkv.out_features % (3 * heads):
        return None
    d = qkv.out_features // 3 // heads
    out_name, proj = out
    layers = {f"{name}.qkv": qkv, out_name: proj}
    return Site("heads", name, owner, proj, False, heads, d, layers, [(qkv, True), (proj, False)],
                1, d, {qkv: 3 * d, proj: d})  # fmt: skip


def _split_site(module: nn.Module, name: str, owner: nn.Module) -> Site | None:
    for names in QKV_NAMES:
        q, k, v = (_linear(owner, n) for n in names)
        if q is not None and k is not None and v is not None:
            break
    else:
        return None
    out = _out_proj(module, name, owner)
    d = _int_attr(owner, ("head_dim", "attention_head_size"))
    if d is None:
        heads = _int_attr(owner, HEAD_ATTRS)
        d = q.out_features // heads if heads and q.out_features % heads == 0 else None
    if out is None or d is None or q.out_features % d or k.out_features % d:
        return None
    out_name, o = out
    n_q, n_kv = q.out_features // d, k.out_features // d
    if (
        v.out_features != k.out_features
        or n_kv == 0
        or n_q % n_kv
        or o.in_features != q.out_features
    ):
        return None
    rep = n_q // n_kv  # query heads sharing one key/value head: they go together
    layers = {f"{name}.{n}": m for n, m in zip(names, (q, k, v), strict=True)}
    layers[out_name] = o
    cuts = [(q, True), (k, True), (v, True), (o, False)]
    expected = {q: rep * d, k: d, v: d, o: rep * d}
    return Site("heads", name, owner, o, False, n_kv, rep * d, layers, cuts, rep, d, expected)


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
