"""How many units each site loses, which ones, and the cut itself (structured pruning).

Counts: `amount` of a site's units, rounded to the nearest unit (and the kept count to a
multiple of `round_to`); a global ranking takes the lowest scores over all sites, but every
site keeps at least one head or one `round_to` of neurons/channels. Scores are torch-pruning
group importances: every coupled weight of a unit counts.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from engine.methods.base import MethodContext
from engine.methods.prune.structured_targets import (
    DEFAULT_LAYOUTS,
    KV_HEAD_ATTRS,
    Layouts,
    Site,
    attention_sites,
    eval_mode,
    ffn_sites,
    in_features,
)


def min_keep(cfg: Any, site: Site) -> int:
    """Units a site always keeps: one head, or one round_to's worth of neurons/channels."""
    return 1 if site.kind == "heads" else max(1, cfg.round_to or 1)


def round_keep(cfg: Any, site: Site, keep: int) -> int:
    """Kept units rounded to the nearest multiple of round_to (heads are not rounded)."""
    if site.kind == "heads" or not cfg.round_to:
        return keep
    r = cfg.round_to
    return min(site.units, max(r, math.floor(keep / r + 0.5) * r))


def layer_count(cfg: Any, site: Site) -> int:
    """Units removed from one site under scope layer (rounded, round_to applied)."""
    k = math.floor(cfg.amount * site.units + 0.5)
    return site.units - round_keep(cfg, site, site.units - k)


def global_total(cfg: Any, sites: list[Site]) -> int:
    """Units a global ranking removes over all sites together."""
    return math.floor(cfg.amount * sum(s.units for s in sites) + 0.5)


def importance(name: str, target: str) -> tp.importance.Importance:
    """torch-pruning's group importance for l1 / l2 / taylor."""
    # FFN blocks (and attention modules) of one model have equal shapes, so raw scores compare
    # across blocks and a global ranking can find the weak ones; conv layers differ in fan-in,
    # so their channel scores are first scaled to mean 1 within each group
    norm = "mean" if target == "channels" else None
    if name == "taylor":
        return tp.importance.GroupTaylorImportance(group_reduction="mean", normalizer=norm)
    return tp.importance.GroupMagnitudeImportance(
        p=1 if name == "l1" else 2, group_reduction="mean", normalizer=norm
    )


def unit_scores(
    site: Site, graph: tp.DependencyGraph, imp: tp.importance.Importance
) -> torch.Tensor:
    """One score per unit: its channels' group importance, averaged."""
    n = site.units * site.unit_size
    group = graph.get_pruning_group(site.root, site.pruning_fn(graph), list(range(n)))
    scores = imp(group)
    if scores is None:
        raise ValueError(f"torch-pruning found no weights to score in {site.name}")
    return scores.float().cpu().view(site.units, site.unit_size).mean(dim=1)


def calibration_grads(ctx: MethodContext, batches: int) -> None:
    """Sum loss gradients over a few training batches into .grad (for Taylor importance)."""
    from engine.train.forward import forward_loss, to_device
    from engine.train.loop import make_loader

    module = ctx.module
    device = ctx.device or next(module.parameters()).device
    module.zero_grad(set_to_none=True)
    seen = 0
    with eval_mode(module):  # no dropout: the ranking should not depend on which units dropped
        for batch in make_loader(ctx.data.train, ctx.batch_size, True, ctx.seed):
            if seen >= batches:
                break
            forward_loss(module, to_device(batch, device), ctx.task)[0].backward()
            seen += 1
    if seen == 0:
        raise ValueError("importance taylor got no calibration batch: the training split is empty")


def plan_units(cfg: Any, sites: list[Site], scores: list[torch.Tensor]) -> list[list[int]]:
    """Unit ids each site loses: its lowest scores, per site or from one global ranking."""
    if cfg.scope == "layer":
        counts = [layer_count(cfg, s) for s in sites]
    else:
        ranked = sorted(
            (float(v), i, u) for i, sc in enumerate(scores) for u, v in enumerate(sc.tolist())
        )
        total, taken = global_total(cfg, sites), 0
        counts = [0] * len(sites)
        room = [s.units - min_keep(cfg, s) for s in sites]
        for _, i, _u in ranked:
            if taken >= total:
                break
            if counts[i] < room[i]:
                counts[i] += 1
                taken += 1
        counts = [
            s.units - round_keep(cfg, s, s.units - k) for s, k in zip(sites, counts, strict=True)
        ]
    return [torch.argsort(sc)[:k].tolist() for sc, k in zip(scores, counts, strict=True)]


def checked_group(
    site: Site, graph: tp.DependencyGraph, units: list[int], names: dict[nn.Module, str]
) -> tp.Group:
    """The dependency graph's group for these units, refused if it reaches beyond the site."""
    group = graph.get_pruning_group(site.root, site.pruning_fn(graph), site.channels(units))
    for _, idxs in group:
        # under GQA several query heads map onto one key/value channel, listed once per head;
        # torch-pruning 1.6 would subtract every copy from out_features
        idxs[:] = sorted(set(idxs))
    if site.kind == "channels":
        return group
    cut: dict[nn.Module, set[int]] = {}
    for dep, idxs in group:  # every layer with weights the cut touches (embeddings, norms too)
        if isinstance(getattr(dep.target.module, "weight", None), torch.Tensor):
            cut.setdefault(dep.target.module, set()).update(idxs)
    want = {m: n * len(units) for m, n in site.expected.items()}
    if {m: len(i) for m, i in cut.items()} != want:
        others = [names.get(m, "?") for m in cut if m not in want] or ["other channels"]
        raise ValueError(
            f"torch-pruning's dependency graph couples {site.name} with {', '.join(others[:3])} "
            f"beyond its own layers; structured pruning of this architecture with target "
            f"{'ffn' if site.kind == 'ffn' else site.kind} is not supported"
        )
    return group


def sync_attrs(site: Site) -> None:
    """Head counts and widths the modules keep as attributes follow the new shapes."""
    own = vars(site.owner)
    if site.kind == "ffn" and isinstance(own.get("intermediate_size"), int):
        site.owner.intermediate_size = in_features(site.root)
    if site.kind != "heads":
        return
    n_q = in_features(site.root) // site.head_dim
    n_kv = n_q // site.q_per_unit
    for attr in site.head_attrs:
        if isinstance(own.get(attr), int):
            setattr(site.owner, attr, n_q)
    for attr in KV_HEAD_ATTRS:
        if isinstance(own.get(attr), int):
            setattr(site.owner, attr, n_kv)
    for attr in ("all_head_size", "split_size"):  # BERT; GPT-2 splits its fused qkv by this
        if isinstance(own.get(attr), int):
            setattr(site.owner, attr, n_q * site.head_dim)
    if isinstance(own.get("num_key_value_groups"), int):
        site.owner.num_key_value_groups = site.q_per_unit


def sync_hf_config(module: nn.Module, layouts: Layouts = DEFAULT_LAYOUTS) -> None:
    """Record sizes in the HF config when every block ends up the same size.

    config.json then describes the model, so plain transformers can load it; uneven (global)
    sizes live only in the tensors and module attributes, which workbench checkpoints restore.
    """
    configs = {
        id(c): c
        for c in (getattr(m, "config", None) for m in module.modules())
        if hasattr(c, "_attn_implementation") and hasattr(c, "to_dict")
    }
    widths = {s.units for s in ffn_sites(module, layouts)}
    heads = {(s.units * s.q_per_unit, s.units) for s in attention_sites(module, layouts)}
    for cfg in configs.values():
        if len(widths) == 1 and isinstance(getattr(cfg, "intermediate_size", None), int):
            cfg.intermediate_size = next(iter(widths))
        elif len(widths) == 1 and "n_inner" in vars(cfg):  # GPT-2: None means 4 x hidden
            cfg.n_inner = next(iter(widths))
        # only configs that state head_dim rebuild right from a smaller head count (BERT derives
        # its head size from hidden_size / heads, so its config keeps the original count)
        if len(heads) == 1 and isinstance(getattr(cfg, "head_dim", None), int):
            n_q, n_kv = next(iter(heads))
            cfg.num_attention_heads = n_q
            if isinstance(getattr(cfg, "num_key_value_heads", None), int):
                cfg.num_key_value_heads = n_kv
