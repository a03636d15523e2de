"""TrainConfig: the `train:` section of a recipe (how fine-tuning runs).

Lives apart from engine.recipe (which re-exports it) so the training package can import it
without the whole recipe module, and so the training setup (precision, accumulation,
clipping, checkpointing, compile) has room to grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config_fields import option


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = option(
        1, min=0, max=1000, help="passes over the training data (0 = no fine-tuning)"
    )
    max_steps: int | None = option(None, min=1, help="stop after this many optimizer steps")
    batch_size: int = option(16, min=1, max=65536, help="samples per step")
    lr: float = option(5e-4, min=0.0, max=10.0, min_exclusive=True, label="Learning rate")
    weight_decay: float = option(0.0, min=0.0, max=1.0, advanced=True)
    warmup_steps: int = option(0, min=0, help="linear warm-up, then linear decay", advanced=True)
    eval_every: int = option(50, min=1, help="validate every N steps")
    eval_batches: int | None = option(None, min=1, help="cap on validation batches", advanced=True)
    log_every: int = option(5, min=1, help="emit train metrics every N steps", advanced=True)
    checkpoint_every: int | None = option(
        None, min=1, help="save a resumable training state every N steps", advanced=True
    )
    device: str = option("auto", choices=("auto", "cpu", "cuda"))
    precision: str = option(
        "fp32", choices=("fp32",), help="numeric precision of the training step"
    )
    seed: int = option(0, min=0, advanced=True)
