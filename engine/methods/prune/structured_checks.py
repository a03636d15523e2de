"""Which sites a structured pruning config targets on a model, and what is wrong with it.

Everything here leaves the model untouched: the checks and the preview run before a job
starts (and again in apply_structured before the first cut).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch_pruning as tp
from torch import nn

from engine.methods.prune.masks import matches
from engine.methods.prune.structured_cut import global_total, layer_count, min_keep
from engine.methods.prune.structured_layouts import is_dense, layer_patterns, layouts_for
from engine.methods.prune.structured_targets import (
    CONV_TYPES,
    UNIT_NAMES,
    Site,
    attention_sites,
    build_graph,
    conv_sites,
    describe,
    ffn_sites,
    probe_inputs,
    removed_params,
)

if TYPE_CHECKING:
    from engine.methods.prune.structured import StructuredPruneConfig

SITE_NAMES = {"ffn": "FFN block", "heads": "attention module", "channels": "conv channel group"}
NONE_FOUND = {
    "ffn": "no FFN/MLP block found (known layouts: fc/proj, gate_proj/up_proj/down_proj, "
    "intermediate.dense/output.dense, fc1/fc2, c_fc/c_proj); use target heads or channels",
    "heads": "no attention heads found (known layouts: fused qkv/c_attn + proj/c_proj with a "
    "head count, query_key_value + dense, q_proj/k_proj/v_proj + o_proj, BERT "
    "query/key/value + output.dense); use "
    "target ffn",
    "channels": "no prunable Conv channels found: target channels is for convolutional "
    "models (a conv feeding the model output directly is never cut); use target ffn or heads "
    "for transformers",
}


def _site_matches(site: Site, patterns: tuple[str, ...]) -> bool:
    return matches(site.name, patterns) or any(matches(n, patterns) for n in site.layers)


def _all_sites(
    cfg: StructuredPruneConfig, module: nn.Module, graph: tp.DependencyGraph | None = None
) -> list[Site]:
    if cfg.target == "ffn":
        return ffn_sites(module, layouts_for(cfg))
    if cfg.target == "heads":
        return attention_sites(module, layouts_for(cfg))
    if not any(isinstance(m, CONV_TYPES) for m in module.modules()):
        return []
    return conv_sites(module, graph or build_graph(module, probe_inputs(module)), cfg.exclude)


def _none_found(cfg: StructuredPruneConfig, module: nn.Module) -> str:
    """Nothing to prune: the known layouts, and the model's own layer names to map them."""
    if cfg.target == "channels" or not any(is_dense(m) for m in module.modules()):
        return NONE_FOUND[cfg.target]
    field = "ffn_modules: [up, down]" if cfg.target == "ffn" else (
        "attention_modules: [q, k, v, out] or [qkv, out] (and head_count_attr)")
    return (f"{NONE_FOUND[cfg.target]}; or name your model's layers with {field}, relative to "
            f"the block that holds them; its Linear/Conv1D layers: {layer_patterns(module)}")


def _unit_word(site: Site, n: int) -> str:
    if site.kind == "heads" and site.q_per_unit > 1:
        return f"{n} key/value groups ({n * site.q_per_unit} heads)"
    return f"{n} {UNIT_NAMES[site.kind].split()[-1]}"


def _pattern_problems(
    cfg: StructuredPruneConfig, module: nn.Module, sites: list[Site]
) -> list[str]:
    kind = SITE_NAMES[cfg.target]
    names = [n for n, _ in module.named_modules() if n]
    out = []
    for p in cfg.include:
        if any(_site_matches(s, (p,)) for s in sites):
            continue
        hit = [n for n in names if matches(n, (p,))]
        if hit:
            out.append(
                f"{hit[0]} cannot be structurally pruned with target {cfg.target}: it is not part "
                f"of any {kind} (embeddings and output heads are never pruned); {kind}s look "
                f"like: {describe(sites)}"
            )
        else:
            out.append(
                f"include pattern {p!r} matches no layer; {kind}s look like: {describe(sites)}; "
                f"use e.g. ['{sites[0].name}*'] or ['*']"
            )
    return out


def _amount_problems(cfg: StructuredPruneConfig, sites: list[Site]) -> list[str]:
    if cfg.scope == "global":
        total = global_total(cfg, sites)
        room = sum(max(0, s.units - min_keep(cfg, s)) for s in sites)
        if total > room:
            return [
                f"amount {cfg.amount:g} would remove {total} {UNIT_NAMES[cfg.target]} but only "
                f"{room} can go while every {SITE_NAMES[cfg.target]} keeps at least "
                f"{_unit_word(sites[0], min_keep(cfg, sites[0]))}; lower amount or round_to"
            ]
        return []
    out = []
    for s in sites:
        if cfg.round_to and s.kind != "heads" and cfg.round_to > s.units:
            out.append(f"round_to {cfg.round_to} is more than the {_unit_word(s, s.units)} of "
                       f"{s.name}; lower round_to")  # fmt: skip
        elif layer_count(cfg, s) >= s.units:
            limit = (s.units - 0.5) / s.units
            out.append(
                f"amount {cfg.amount:g} would remove all {_unit_word(s, s.units)} of {s.name}; "
                f"use amount below {limit:.3g} so at least one stays"
            )
        if len(out) >= 2:
            break
    return out


def analyse_sites(
    cfg: StructuredPruneConfig, module: nn.Module, graph: tp.DependencyGraph | None = None
) -> tuple[list[Site], list[str]]:
    """(selected sites, problems a person can act on); no problems means it can run."""
    try:
        sites = _all_sites(cfg, module, graph)
    except ValueError as exc:
        return [], [str(exc)]
    if not sites:
        return [], [_none_found(cfg, module)]
    problems = _pattern_problems(cfg, module, sites)
    chosen = [
        s for s in sites if _site_matches(s, cfg.include) and not _site_matches(s, cfg.exclude)
    ]
    if not chosen and not problems:
        problems.append(
            f"include={list(cfg.include)} exclude={list(cfg.exclude)} match no "
            f"{SITE_NAMES[cfg.target]}; they look like: {describe(sites)}"
        )
    if chosen and not problems:
        problems += _amount_problems(cfg, chosen)
    return chosen, problems


def check_structured(cfg: StructuredPruneConfig, module: nn.Module) -> list[str]:
    """Model-dependent problems (nothing to prune, patterns, amounts), before anything runs."""
    return analyse_sites(cfg, module)[1]


def preview_structured(cfg: StructuredPruneConfig, module: nn.Module) -> dict[str, int]:
    """Parameters in the targeted units and those pruning would remove, model untouched."""
    sites, problems = analyse_sites(cfg, module)
    if problems:
        raise ValueError(problems[0])
    if cfg.scope == "layer":
        counts = [layer_count(cfg, s) for s in sites]
    else:  # which sites lose more depends on importance: estimate with an even spread
        counts = [round(cfg.amount * s.units) for s in sites]
    return {
        "layers": len({n for s in sites for n in s.layers}),
        "targeted": removed_params(sites, [s.units for s in sites]),
        "removed": removed_params(sites, counts),
    }
