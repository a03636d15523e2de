"""The DeepSpeed JSON config of a recipe's `train:` section (train.strategy deepspeed).

A pure function of TrainConfig: the same dict is handed to `deepspeed.initialize`, written to
the run folder as deepspeed_config.json, previewed under the Training form and printed by
`workbench-cli launch RECIPE --print`. Keys as DeepSpeed reads them
(deepspeed/runtime/config.py, runtime/zero/config.py, runtime/zero/offload_config.py).

What the workbench keeps for itself: the optimizer (AdamW) and the learning-rate schedule are
the loop's own, passed to `deepspeed.initialize` as client objects, so the config has no
"optimizer" / "scheduler" sections and a deepspeed run follows the same schedule as the
others. train_batch_size is left out: DeepSpeed derives it (micro × accumulation × world),
and a recipe run as a world of one would contradict a number computed for several processes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.train.train_config import TrainConfig

CONFIG_NAME = "deepspeed_config.json"

OFFLOAD_NEEDS_STAGE3 = ("optimizer_and_params offloads the parameters, which only ZeRO stage 3 "
                        "shards: set train.deepspeed_stage to 3 or offload only the optimizer")


def deepspeed_config(cfg: TrainConfig, device_type: str = "cuda") -> dict[str, Any]:
    """The DeepSpeed config for `cfg` (precision, batch, accumulation, clipping, ZeRO, offload).

    `device_type` is where training runs: pinned host memory for offloads only helps (and
    only exists) with a CUDA device.
    """
    config: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum_steps,
        "zero_optimization": _zero_section(cfg, device_type == "cuda"),
        # the loop logs every train.log_every steps itself; DeepSpeed's own print stays quiet
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }
    if cfg.clip_grad_norm is not None:
        config["gradient_clipping"] = cfg.clip_grad_norm
    if cfg.precision == "bf16":
        config["bf16"] = {"enabled": True}
    elif cfg.precision == "fp16":
        config["fp16"] = _fp16_section()
    if cfg.deepspeed_offload != "none":
        # the offloaded optimizer step runs the loop's torch AdamW on the CPU copy (DeepSpeed
        # would otherwise insist on its DeepSpeedCPUAdam, a C++ op built on first use)
        config["zero_force_ds_cpu_optimizer"] = False
    return config


def _zero_section(cfg: TrainConfig, pin_memory: bool) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": cfg.deepspeed_stage}
    if cfg.deepspeed_offload in ("optimizer", "optimizer_and_params"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": pin_memory}
    if cfg.deepspeed_offload == "optimizer_and_params":
        zero["offload_param"] = {"device": "cpu", "pin_memory": pin_memory}
    return zero


def _fp16_section() -> dict[str, Any]:
    """Dynamic loss scaling (loss_scale 0), like torch's GradScaler: start at 2**16, halve on an
    overflow (the step is skipped), double after 1000 clean steps."""
    return {
        "enabled": True,
        "loss_scale": 0,
        "initial_scale_power": 16,
        "loss_scale_window": 1000,
        "hysteresis": 2,
        "min_loss_scale": 1,
    }


def offload_problem(stage: int, offload: str) -> str | None:
    """Why this ZeRO stage cannot take this offload (train.deepspeed_offload), or None."""
    if offload == "optimizer_and_params" and stage != 3:
        return OFFLOAD_NEEDS_STAGE3
    return None


def config_problems(cfg: TrainConfig) -> list[tuple[str, str]]:
    """(field, reason) for settings a deepspeed run refuses (TrainConfig.extra_checks)."""
    problems = []
    problem = offload_problem(cfg.deepspeed_stage, cfg.deepspeed_offload)
    if problem:
        problems.append(("deepspeed_offload", problem))
    if cfg.compile:  # DeepSpeed's engine would wrap (and ZeRO-3 hook) a compiled graph
        problems.append(("compile", "torch.compile is not supported with strategy deepspeed "
                                    "yet; turn compile off"))
    return problems


def method_problem(methods: tuple[Any, ...], stage: int) -> str | None:
    """Why ZeRO `stage` cannot fine-tune these steps (train.deepspeed_stage), or None.

    A masking step recomputes each masked weight from the whole weight before every forward;
    ZeRO-3 holds only a partition of it there (stages 1 and 2 keep whole weights)."""
    from engine.registry import _effects

    masks = [i for i, e in enumerate(_effects(methods)) if e == "masks"]
    if stage == 3 and masks:
        return (f"ZeRO stage 3 cannot fine-tune the pruning masks of Step {masks[0] + 1} (it "
                "shards each weight, the masks need them whole); use stage 1 or 2")
    return None


def config_text(cfg: TrainConfig, device_type: str = "cuda") -> str:
    """The config as the JSON file holds it (indented, keys in a stable order)."""
    return json.dumps(deepspeed_config(cfg, device_type), indent=2)


def write_config(cfg: TrainConfig, folder: Path, device_type: str) -> None:
    """deepspeed_config.json in the run folder (rank 0 only: the others write nothing)."""
    from engine.atomic_io import atomic_write_text
    from engine.train.strategy import is_main_process

    if is_main_process():
        atomic_write_text(folder / CONFIG_NAME, config_text(cfg, device_type) + "\n")
