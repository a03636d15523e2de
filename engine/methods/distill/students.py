"""Students built from a teacher: kept blocks (layer drop) or a smaller random configuration.

`drop_layers` cuts the model in place, as structured pruning does, so the job's module object
stays the same; it then states the new layer count in the model's own config (HF
`num_hidden_layers`, the tiny models' `n_layer`), which is what makes the student save and
reload as an ordinary model of its family: a workbench checkpoint rebuilds from that config,
and a Hugging Face folder loads with `from_pretrained`.

transformers and the built-in model modules are imported inside functions: registry discovery
imports this file and must stay cheap.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from engine.methods.distill.blocks import model_type, transformer_blocks


def default_keep(n: int) -> list[int]:
    """Every other teacher block, 0, 2, 4, ... (DistilBERT-style); at least one."""
    return list(range(0, max(n, 1), 2))


def check_keep(keep: Sequence[int], n: int) -> list[int]:
    """The kept block numbers in teacher order; ValueError (one line, `keep_layers`) when bad."""
    items = list(keep)
    if not items:
        raise ValueError(f"keep_layers is empty; list the teacher blocks to keep (0..{n - 1})")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise ValueError(f"keep_layers must hold block numbers 0..{n - 1}, got {items}")
    outside = sorted({i for i in items if not 0 <= i < n})
    if outside:
        raise ValueError(
            f"keep_layers has {', '.join(map(str, outside))}, out of range: the teacher has {n} "
            f"blocks, numbered 0..{n - 1}"
        )
    twice = sorted({i for i in items if items.count(i) > 1})
    if twice:
        raise ValueError(f"keep_layers lists block {', '.join(map(str, twice))} more than once; "
                         "list each kept block once")
    if len(items) == n:
        raise ValueError(f"keep_layers keeps all {n} teacher blocks, so the student would not be "
                         "smaller; leave out at least one block")
    return sorted(items)


def _hf_config(module: nn.Module) -> Any:
    """The transformers config of a wrapped HF model, or None for other modules."""
    inner = getattr(module, "model", None)
    config = getattr(inner, "config", None)
    return config if hasattr(config, "num_hidden_layers") else None


def _refuse_position_scaled(config: Any) -> None:
    """GPT-2 can scale attention by 1/(layer index + 1), fixed when built: a renumbered block
    would reload with another scale, so such a model is refused rather than silently changed."""
    if config is not None and getattr(config, "scale_attn_by_inverse_layer_idx", False):
        raise ValueError(
            "keep_layers cannot be used with scale_attn_by_inverse_layer_idx: the model scales "
            "attention by block position, so a dropped-layer student would not reload equal"
        )


def _renumber(block: nn.Module, index: int) -> None:
    """Give a kept block its new position: HF attention uses layer_idx to address the KV cache."""
    for m in block.modules():
        if isinstance(vars(m).get("layer_idx"), int):
            m.layer_idx = index


def _state_layer_count(module: nn.Module, config: Any, kept: list[int], n: int) -> None:
    """Write the new block count where the model's family reads it when it is rebuilt."""
    if config is not None:
        config.num_hidden_layers = len(kept)  # attribute_map turns this into n_layer / n_layers
        types = getattr(config, "layer_types", None)
        if isinstance(types, list) and len(types) == n:
            config.layer_types = [types[i] for i in kept]
        return
    own = getattr(module, "config", None)
    if dataclasses.is_dataclass(own) and hasattr(own, "n_layer"):
        module.config = dataclasses.replace(own, n_layer=len(kept))


def drop_layers(module: nn.Module, keep: Sequence[int]) -> None:
    """Keep only the teacher blocks in `keep` (teacher order, exact weights), in place."""
    _, blocks = transformer_blocks(module)
    n = len(blocks)
    kept_ids = check_keep(keep, n)
    config = _hf_config(module)
    _refuse_position_scaled(config)
    kept = [blocks[i] for i in kept_ids]
    del blocks[:]  # the same ModuleList object, so anything holding it sees the student
    blocks.extend(kept)
    for index, block in enumerate(kept):
        _renumber(block, index)
    _state_layer_count(module, config, kept_ids, n)


def _narrow(width: int, heads: int, factor: float) -> int:
    """width * factor rounded to a multiple of 2 * heads (even head size, for rotary layers)."""
    step = 2 * heads
    return max(step, int(round(width * factor / step)) * step)


def _check_sizes(layers: int | None, width_factor: float | None, n: int) -> tuple[int, float]:
    """The student's layer count and width factor; ValueError (one line) when not smaller."""
    count = n if layers is None else layers
    factor = 1.0 if width_factor is None else float(width_factor)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= n:
        raise ValueError(f"layers must be a whole number from 1 to the teacher's {n}, got {layers}")
    if not 0.0 < factor <= 1.0:
        raise ValueError(f"width_factor must be above 0 and at most 1, got {width_factor}")
    if count == n and factor == 1.0:
        raise ValueError(
            f"layers {count} and width_factor {factor:g} give the teacher's own size; set layers "
            f"below {n} or width_factor below 1"
        )
    return count, factor


def _smaller_tiny(module: nn.Module, layers: int, factor: float) -> nn.Module:
    """A seeded tiny-gpt / tiny-bert with fewer blocks and/or a narrower d_model."""
    from engine.models.builtin import TINY_ARCHITECTURES, build_tiny_module

    name = next(k for k, (cls, _) in TINY_ARCHITECTURES.items() if isinstance(module, cls))
    config = dataclasses.asdict(module.config)
    config["n_layer"] = layers
    if factor < 1.0:
        config["d_model"] = _narrow(config["d_model"], config["n_head"], factor)
    return build_tiny_module(name, config)


def _smaller_hf(module: nn.Module, config: Any, layers: int, factor: float) -> nn.Module:
    """A seeded model of the wrapped HF class from a copy of its config, fewer layers/narrower."""
    from engine.models.hf import HF_INIT_SEED, HFLogitsWrapper, quiet_transformers

    cfg = copy.deepcopy(config)  # vocabulary, labels, head type and the rest stay the teacher's
    cfg.num_hidden_layers = layers
    types = getattr(cfg, "layer_types", None)
    if isinstance(types, list):
        cfg.layer_types = types[:layers]
    if factor < 1.0:
        heads = int(cfg.num_attention_heads)
        cfg.hidden_size = _narrow(int(cfg.hidden_size), heads, factor)
        if getattr(cfg, "head_dim", None) is not None:
            cfg.head_dim = cfg.hidden_size // heads
        # the FFN width has a different name per family; GPT-2's n_inner None means 4 * hidden
        for name in ("intermediate_size", "n_inner", "hidden_dim", "ffn_dim"):
            value = getattr(cfg, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(cfg, name, max(1, int(round(value * factor))))
    with quiet_transformers(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(HF_INIT_SEED)
        student = type(module.model)(cfg)
    return HFLogitsWrapper(student.eval())


def smaller_config(
    module: nn.Module, layers: int | None, width_factor: float | None
) -> nn.Module:
    """A new, randomly initialised (seeded) model of module's architecture: fewer blocks and/or
    hidden and FFN widths scaled by width_factor (heads kept, widths divisible by them); the same
    vocabulary and labels. ValueError (one line) for other models or a student not smaller."""
    from engine.models.builtin import TINY_ARCHITECTURES

    n = len(transformer_blocks(module)[1])
    count, factor = _check_sizes(layers, width_factor, n)
    config = _hf_config(module)
    if config is not None:
        return _smaller_hf(module, config, count, factor)
    if any(isinstance(module, cls) for cls, _ in TINY_ARCHITECTURES.values()):
        return _smaller_tiny(module, count, factor)
    raise ValueError(
        f"a smaller configuration needs a built-in or Hugging Face model, not {model_type(module)}; "
        "use layer drop (keep_layers) or another student model"
    )


def _same_block(a: nn.Module, b: nn.Module) -> bool:
    """True when two blocks hold exactly the same tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa
    )


def _kept_blocks(teacher: nn.Module, student: nn.Module) -> list[int] | None:
    """The teacher block each student block equals, or None when any is new (random, trained)."""
    try:
        t_blocks, s_blocks = transformer_blocks(teacher)[1], transformer_blocks(student)[1]
    except ValueError:
        return None
    found = []
    for block in s_blocks:
        match = next((i for i, t in enumerate(t_blocks) if _same_block(t, block)), None)
        if match is None:
            return None
        found.append(match)
    return found


def _blocks_or_none(module: nn.Module) -> int | None:
    """Block count, or None for a model without one block stack."""
    try:
        return len(transformer_blocks(module)[1])
    except ValueError:
        return None


def student_summary(
    teacher: nn.Module, student: nn.Module, keep: Sequence[int] | None = None
) -> dict[str, Any]:
    """Parameters and blocks of teacher and student for the card; kept_blocks from `keep`, else
    found by exact weight match (None when the student's blocks are not the teacher's)."""
    t_params = sum(p.numel() for p in teacher.parameters())
    s_params = sum(p.numel() for p in student.parameters())
    return {
        "teacher_params": t_params,
        "student_params": s_params,
        "params_ratio": round(s_params / t_params, 4) if t_params else None,
        "teacher_blocks": _blocks_or_none(teacher),
        "student_blocks": _blocks_or_none(student),
        "kept_blocks": sorted(keep) if keep is not None else _kept_blocks(teacher, student),
    }


def refresh_loaded(loaded: Any) -> None:
    """After drop_layers or a new student module: loaded's description and recorded config
    (an engine LoadedModel's, shown on the card and kept in the checkpoint) follow the module."""
    from engine.models.builtin import TINY_ARCHITECTURES, tiny_loaded

    module = loaded.module
    name = loaded.extra.get("builtin")
    if name in TINY_ARCHITECTURES and isinstance(module, TINY_ARCHITECTURES[name][0]):
        fresh = tiny_loaded(name, module, kind=loaded.kind)
        loaded.description = fresh.description
        loaded.extra = {**loaded.extra, "config": fresh.extra["config"]}
        return
    config = _hf_config(module)
    if config is None:
        return
    head = (loaded.description or "").split(":")[0] or type(module.model).__name__
    params = sum(p.numel() for p in module.parameters())
    loaded.description = (
        f"{head}: {type(module.model).__name__} ({loaded.task}), {config.num_hidden_layers} "
        f"layers, d={config.hidden_size}, {params / 1e6:.2f}M params"
    )
