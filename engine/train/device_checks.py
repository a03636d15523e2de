"""What this machine can train: precision and torch.compile against train.device.

Called from TrainConfig.extra_checks, so a recipe the device cannot do is refused before the
run, next to its field in the form and as one line from the CLI. Imports torch only.
"""

from __future__ import annotations

import os
import shutil

import torch

FP16_ON_CPU = "fp16 needs a CUDA GPU; use bf16 or fp32 on CPU"


def resolved_device_type(device: str) -> str:
    """'cuda' or 'cpu': what train.device means on this machine ('auto' is CUDA when present)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def precision_problem(precision: str, device: str) -> str | None:
    """Why this machine cannot train at `precision` on `device` (train.device), or None."""
    kind = resolved_device_type(device)
    if kind == "cuda" and not torch.cuda.is_available():
        return None  # train.device itself is refused for that (no CUDA device)
    if precision == "fp16" and kind != "cuda":
        return FP16_ON_CPU
    if precision == "bf16" and kind == "cuda":
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            name = torch.cuda.get_device_name()
            return (f"bf16 needs a GPU with bfloat16 support (Ampere or newer); {name} has none: "
                    "use fp16 or fp32")
    if precision == "bf16" and kind == "cpu" and not torch.amp.is_autocast_available("cpu"):
        return "bf16 autocast is not available on CPU in this torch; use fp32"
    return None


def compile_problem(device: str) -> str | None:
    """Why torch.compile cannot train here (train.compile), or None."""
    if resolved_device_type(device) == "cpu":
        # inductor writes C++ for CPU kernels and builds it with the system compiler
        if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "clang++") if c):
            return ("torch.compile on CPU needs a C++ compiler (g++ or clang++, or $CXX) and "
                    "none was found; install one or turn compile off")
    return None


DATAPARALLEL_NEEDS_GPUS = "DataParallel needs 2+ CUDA GPUs; DDP is faster: use strategy ddp"


def strategy_problem(strategy: str, device: str, checkpoint_every: int | None) -> str | None:
    """Why this machine (or this setup) cannot train with `strategy` (train.strategy), or None.

    FSDP2 runs on CPU with gloo as well as on GPUs with nccl, so only its resumable state is
    refused: rank 0 alone would write its own shards, not the model.
    """
    if strategy == "dataparallel":
        if resolved_device_type(device) != "cuda" or torch.cuda.device_count() < 2:
            return DATAPARALLEL_NEEDS_GPUS
    if strategy in ("fsdp", "deepspeed") and checkpoint_every:
        return (f"{strategy} cannot write a resumable training state yet (rank 0 holds only its "
                "shards); leave checkpoint_every empty or use strategy ddp")
    if strategy == "deepspeed":
        return deepspeed_problem(device)
    return None


DEEPSPEED_MISSING = "deepspeed is not installed: pip install .[deepspeed] (or use ddp or fsdp)"
DEEPSPEED_NEEDS_CUDA = "deepspeed needs CUDA GPUs; this machine has none: use ddp or fsdp"


def deepspeed_problem(device: str = "auto") -> str | None:
    """Why DeepSpeed cannot train here: the optional package missing, or no CUDA GPU."""
    import importlib.util

    if importlib.util.find_spec("deepspeed") is None:  # found without importing it (slow)
        return DEEPSPEED_MISSING
    if not torch.cuda.is_available():
        return DEEPSPEED_NEEDS_CUDA
    if resolved_device_type(device) != "cuda":
        return "deepspeed trains on CUDA GPUs: set train.device to auto or cuda"
    return None


def unavailable_strategies() -> dict[str, str]:
    """The train.strategy choices this machine cannot run, with the reason (the form greys them)."""
    reasons = {"deepspeed": deepspeed_problem()}
    if torch.cuda.device_count() < 2:
        reasons["dataparallel"] = DATAPARALLEL_NEEDS_GPUS
    return {k: v for k, v in reasons.items() if v}


def unavailable_precisions() -> dict[str, str]:
    """The train.precision choices no device here can train (fp16 without a CUDA GPU)."""
    return {} if torch.cuda.is_available() else {"fp16": FP16_ON_CPU}
