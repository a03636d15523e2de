"""What the model is wrapped in while it trains: activation checkpointing and torch.compile.

Both are undone when training ends (`training_module` is a context manager): save, export
and every later stage see the plain module, with the same state_dict keys as before.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from engine.models.transformer_blocks import Block
from engine.train.train_config import TrainConfig

Log = Callable[..., None]


def _checkpointed(block: nn.Module, forward: Callable[..., Any], *args: Any) -> Any:
    """The block's forward, its activations recomputed in backward (not while evaluating)."""
    if not (block.training and torch.is_grad_enabled()):
        return forward(*args)
    return checkpoint(forward, *args, use_reentrant=False)


def enable_checkpointing(module: nn.Module) -> tuple[list[str], Callable[[], None]]:
    """Checkpoint every Hugging Face model and built-in transformer block inside `module`.

    Returns (what was checkpointed, a function that undoes it). Hugging Face models use their
    own gradient_checkpointing_enable; the built-in blocks get a forward that goes through
    torch.utils.checkpoint (an instance attribute: the class and state_dict are untouched).
    """
    from transformers import PreTrainedModel

    done: list[str] = []
    undo: list[Callable[[], None]] = []
    inside_hf: set[int] = set()  # modules of a Hugging Face model already checkpointed
    for name, sub in module.named_modules():
        if id(sub) in inside_hf:
            continue
        if isinstance(sub, PreTrainedModel) and sub.supports_gradient_checkpointing:
            undo.append(_hf_checkpointing(sub))
            inside_hf.update(id(m) for m in sub.modules())
            done.append(f"{type(sub).__name__} (Hugging Face)")
        elif isinstance(sub, Block):
            sub.forward = functools.partial(_checkpointed, sub, sub.forward)
            undo.append(functools.partial(sub.__dict__.pop, "forward", None))
            done.append(name or "block")

    def restore() -> None:
        for fn in reversed(undo):
            fn()

    return done, restore


def _hf_checkpointing(model: Any) -> Callable[[], None]:
    """Turn a Hugging Face model's own checkpointing on; the function that turns it off.

    transformers 5 renamed gradient_checkpointing_* to activation_checkpointing_*.
    """
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        return model.activation_checkpointing_disable
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    return model.gradient_checkpointing_disable


def setup_record(cfg: TrainConfig) -> dict[str, Any]:
    """The card's record of how the run trained (checkpointing/compile as asked, until applied)."""
    return {
        "precision": cfg.precision,
        "grad_accum_steps": cfg.grad_accum_steps,
        "micro_batch": cfg.batch_size,
        "effective_batch": cfg.batch_size * cfg.grad_accum_steps,
        "clip_grad_norm": cfg.clip_grad_norm,
        "grad_checkpointing": cfg.grad_checkpointing,
        "compile": cfg.compile,
    }


def _summary(done: list[str]) -> str:
    hf = [d for d in done if d.endswith("(Hugging Face)")]
    blocks = len(done) - len(hf)
    parts = hf + ([f"{blocks} built-in transformer block(s)"] if blocks else [])
    return ", ".join(parts)


@contextlib.contextmanager
def training_module(
    module: nn.Module, cfg: TrainConfig, log: Log, setup: dict[str, Any]
) -> Iterator[nn.Module]:
    """The module to train (compiled, checkpointed as the recipe asks); undone on exit.

    `setup` receives what was actually applied, for the card.
    """
    restore: Callable[[], None] = lambda: None  # noqa: E731
    if cfg.grad_checkpointing:
        done, restore = enable_checkpointing(module)
        if done:
            setup["grad_checkpointing"] = True
            log(f"gradient checkpointing: {_summary(done)}")
        else:
            setup["grad_checkpointing"] = "not applied: no Hugging Face model or built-in block"
            log("gradient checkpointing asked for, but this model has no Hugging Face model or "
                "built-in transformer block to checkpoint; training without it", "warning")
    trained = module
    if cfg.compile:
        trained = torch.compile(module)
        setup["compile"] = True
        log("torch.compile: the first steps compile the model and are slow")
    try:
        yield trained
    finally:
        restore()
