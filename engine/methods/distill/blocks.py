"""Where a model keeps its transformer blocks: the one ModuleList a layer-drop student cuts.

Built-in tiny-gpt / tiny-bert hold them in `blocks`; Hugging Face models in their base model's
`encoder.layer` (BERT, MiniLM, RoBERTa), `h` (GPT-2), `layers` (Llama, Mistral, Qwen) or
`transformer.layer` (DistilBERT). Only torch is imported: registry discovery imports this file.
"""

from __future__ import annotations

from torch import nn

# ModuleList names that hold a stack of transformer blocks, from the layouts above
BLOCK_LIST_NAMES = ("blocks", "layer", "layers", "h", "block")


def model_type(module: nn.Module) -> str:
    """A readable name for messages: the HF class and model_type, or the module's class."""
    inner = getattr(module, "model", None)
    config = getattr(inner, "config", None) or getattr(module, "config", None)
    kind = getattr(config, "model_type", None)
    name = type(inner if isinstance(inner, nn.Module) and config is not None else module).__name__
    return f"{name} ({kind})" if isinstance(kind, str) and kind else name


def _candidates(module: nn.Module) -> list[tuple[str, nn.ModuleList]]:
    """Non-empty ModuleLists named like a block stack whose entries are all one class."""
    found = []
    for name, child in module.named_modules():
        if not isinstance(child, nn.ModuleList) or len(child) == 0:
            continue
        if name.rpartition(".")[2] not in BLOCK_LIST_NAMES:
            continue
        if len({type(b) for b in child}) != 1:
            continue
        if not any(True for _ in child[0].parameters()):
            continue
        found.append((name, child))
    # a stack nested inside another stack's block (e.g. a list of heads) is not the stack
    return [(n, c) for n, c in found if not any(n.startswith(o + ".") for o, _ in found)]


def transformer_blocks(module: nn.Module) -> tuple[str, nn.ModuleList]:
    """The dotted path and the ModuleList of a model's transformer blocks.

    ValueError (one line, naming the model type) when the model has no block stack, or has
    several (an encoder-decoder), where dropping layers would be ambiguous.
    """
    found = _candidates(module)
    if not found:
        raise ValueError(
            f"{model_type(module)} has no stack of transformer blocks (looked for a ModuleList "
            f"named {', '.join(BLOCK_LIST_NAMES)}); layer drop needs a GPT/BERT/Llama-style model"
        )
    if len(found) > 1:
        names = ", ".join(n for n, _ in found)
        raise ValueError(
            f"{model_type(module)} has several block stacks ({names}); layer drop handles "
            "models with one stack (encoder-only or decoder-only)"
        )
    return found[0]


def block_count(module: nn.Module) -> int:
    """Number of transformer blocks (ValueError as transformer_blocks when there are none)."""
    return len(transformer_blocks(module)[1])
