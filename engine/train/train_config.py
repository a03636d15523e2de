"""TrainConfig: the `train:` section of a recipe (how fine-tuning runs).

Lives apart from engine.recipe (which re-exports it) so the training package can import it
without the whole recipe module, and so the training setup (precision, accumulation,
clipping, checkpointing, compile) has room to grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config_fields import option

# the strategies torchrun runs, one process per device (the rest are one process)
MULTI = ("ddp", "fsdp", "deepspeed")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = option(
        1, min=0, max=1000, help="passes over the training data (0 = no fine-tuning)"
    )
    max_steps: int | None = option(None, min=1, help="stop after this many optimizer steps")
    batch_size: int = option(
        16, min=1, max=65536,
        help="samples per forward pass (per micro-batch with gradient accumulation; per process "
        "with ddp: the global batch is batch_size × processes × accumulation)",
    )
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
        "fp32", choices=("fp32", "fp16", "bf16"),
        help="numeric precision of the training step: fp32; bf16 autocast (CUDA GPUs with "
        "bfloat16, Ampere or newer, and CPUs); fp16 autocast with a gradient scaler (CUDA "
        "only). Weights stay float32. A choice this machine cannot do is refused before the run",
        unavailable="engine.train.device_checks.unavailable_precisions",
    )
    grad_accum_steps: int = option(
        1, min=1, max=4096, label="Gradient accumulation",
        help="micro-batches per optimizer step: the effective batch is batch_size × this "
        "(e.g. 8 × 4 = 32 samples per step) without the memory of the larger batch; steps "
        "count optimizer steps",
    )
    clip_grad_norm: float | None = option(
        None, min=0.0, max=1e6, min_exclusive=True, label="Clip gradient norm",
        help="scale the gradients down when their global L2 norm exceeds this (empty = off); "
        "the Run page plots the norm before clipping", advanced=True,
    )
    grad_checkpointing: bool = option(
        False, label="Gradient checkpointing",
        help="recompute each transformer block's activations in backward instead of storing "
        "them: less memory, about a third more compute. Hugging Face models "
        "(gradient_checkpointing_enable) and the built-in tiny-gpt / tiny-bert; other models "
        "train without it (the log and card say so)", advanced=True,
    )
    compile: bool = option(
        False, label="torch.compile",
        help="compile the model for training with torch.compile: the first steps are slow "
        "(compiling), later ones faster. Needs a C++ compiler on CPU; refused without one",
        advanced=True,
    )
    strategy: str = option(
        "single", choices=("single", "ddp", "fsdp", "dataparallel", "model_parallel", "deepspeed"),
        label="Parallel strategy",
        help="single: one process on one device. ddp: DistributedDataParallel under torchrun, "
        "one process per device (gloo on CPU, nccl on GPUs); workbench-cli run starts torchrun "
        "itself when more than one process is asked for, and only rank 0 writes the run. "
        "fsdp: fully sharded data parallel (FSDP2) under torchrun like ddp, each transformer "
        "block's parameters, gradients and optimizer state split over the processes, for "
        "models whose training does not fit one device. dataparallel: torch's DataParallel, "
        "one process over the visible GPUs (2+ CUDA GPUs); DDP is faster, prefer it. "
        "model_parallel: one process, the model's blocks split in order over several devices "
        "(for a model too big for one GPU). deepspeed: DeepSpeed ZeRO stage 1/2/3 under torchrun "
        "(optional extra: pip install .[deepspeed]; CUDA GPUs)",
        unavailable="engine.train.device_checks.unavailable_strategies",
    )
    nproc_per_node: int = option(
        1, min=1, max=1024, label="Processes per node", shown_when={"strategy": MULTI},
        help="training processes on each machine: one per GPU with nccl (at most the visible "
        "GPUs), or CPU processes with gloo (each uses its own threads)",
    )
    nnodes: int = option(
        1, min=1, max=4096, label="Nodes", shown_when={"strategy": MULTI},
        help="machines training together; more than one needs a rendezvous endpoint and is "
        "started on each node (workbench-cli launch writes a Slurm script)",
    )
    node_rank: int = option(
        0, min=0, max=4095, label="Node rank", shown_when={"strategy": MULTI},
        help="this machine's index among the nodes (0 .. nnodes-1); rank 0's node writes the run",
    )
    rdzv_endpoint: str = option(
        "", label="Rendezvous endpoint", shown_when={"strategy": MULTI},
        help="host:port every node can reach (the first node's, e.g. node01:29500); empty on "
        "one node (a free local port is used)",
    )
    devices: str = option(
        "", label="Devices", shown_when={"strategy": ("model_parallel",)},
        help="model_parallel: the devices the blocks are split over, in order, comma-separated "
        "(e.g. cuda:0,cuda:1); empty = every visible GPU. cpu,cpu runs the split on CPU, "
        "to test it",
    )
    split_points: tuple[int, ...] = option(
        (), label="Split points", shown_when={"strategy": ("model_parallel",)},
        help="model_parallel: the block index each next device starts at (e.g. 6 splits 12 "
        "blocks as 0-5 | 6-11); one fewer than the devices; empty = balanced by parameter count",
    )
    hf_device_map: bool = option(
        False, label="Hugging Face device_map", shown_when={"strategy": ("model_parallel",)},
        help="model_parallel on a Hugging Face model: let accelerate place it "
        "(device_map='auto' over the devices) instead of the split points", advanced=True,
    )
    deepspeed_stage: int = option(
        2, choices=(1, 2, 3), label="ZeRO stage", shown_when={"strategy": ("deepspeed",)},
        help="what DeepSpeed shards over the processes: 1 optimizer state, 2 and gradients, "
        "3 and the parameters",
    )
    deepspeed_offload: str = option(
        "none", choices=("none", "optimizer", "optimizer_and_params"), label="ZeRO offload",
        shown_when={"strategy": ("deepspeed",)},
        help="move optimizer state (stage 1-3) or also the parameters (stage 3) to CPU memory: "
        "less GPU memory, slower steps",
    )
    seed: int = option(0, min=0, advanced=True)

    @property
    def processes(self) -> int:
        """Training processes in all (1 unless the strategy runs under torchrun)."""
        multi = self.strategy in MULTI
        return self.nproc_per_node * self.nnodes if multi else 1

    def extra_checks(self) -> list[tuple[str, str]]:
        """What this machine cannot do (precision, compile): refused before the run."""
        from engine.train.device_checks import compile_problem, precision_problem, strategy_problem

        problems = []
        problem = precision_problem(self.precision, self.device)
        if problem:
            problems.append(("precision", problem))
        problem = compile_problem(self.device) if self.compile else None
        if problem:
            problems.append(("compile", problem))
        problem = strategy_problem(self.strategy, self.device, self.checkpoint_every)
        if problem:
            problems.append(("strategy", problem))
        if self.strategy == "model_parallel":
            from engine.train.placement import config_problems

            problems += config_problems(self)
        if self.strategy == "deepspeed":
            from engine.train.deepspeed_config import config_problems as deepspeed_problems

            problems += deepspeed_problems(self)
        if self.strategy in MULTI:
            from engine.train.launch import launch_problems

            problems += launch_problems(self)
        return problems
