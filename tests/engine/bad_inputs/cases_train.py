"""Bad training setups: a precision the machine cannot do, accumulation and clipping out of range."""

from __future__ import annotations

import torch

from tests.engine.bad_inputs.common import Case, run_swapped

TRAIN = "train: {epochs: 1, max_steps: 8, batch_size: 8, lr: 0.001, eval_every: 4, log_every: 2}"


def _train(extra: str):
    return run_swapped((TRAIN, TRAIN.replace("epochs: 1", f"epochs: 1, {extra}")))


CASES = [
    Case("precision not offered", _train("precision: fp8"), "train.precision"),
    Case("accumulation of 0", _train("grad_accum_steps: 0"), "train.grad_accum_steps"),
    Case("accumulation not a number", _train("grad_accum_steps: many"), "train.grad_accum_steps"),
    Case("clip norm of 0", _train("clip_grad_norm: 0"), "train.clip_grad_norm"),
    Case("checkpointing not a bool", _train("grad_checkpointing: sometimes"), "train.grad_checkpointing"),
    Case("fp16 on a CPU", _train("precision: fp16, device: cpu"),
         "train.precision: fp16 needs a CUDA GPU; use bf16 or fp32 on CPU"),
]

if not torch.cuda.is_available():  # auto means CPU here
    CASES.append(Case("fp16 without a GPU", _train("precision: fp16"),
                      "train.precision: fp16 needs a CUDA GPU; use bf16 or fp32 on CPU"))

# multi-process (ddp) settings: refused before anything starts, naming the field
CASES += [
    Case("strategy not offered", _train("strategy: horovod"), "train.strategy"),
    Case("no nodes", _train("strategy: ddp, nnodes: 0"), "train.nnodes"),
    Case("node rank past the nodes", _train("strategy: ddp, nnodes: 2, node_rank: 2, "
                                             "rdzv_endpoint: 'node01:29500'"),
         "train.node_rank: node_rank 2 is not below nnodes 2"),
    Case("several nodes, no rendezvous", _train("strategy: ddp, nnodes: 2"),
         "train.rdzv_endpoint"),
    Case("rendezvous without a port", _train("strategy: ddp, nnodes: 2, rdzv_endpoint: node01"),
         "train.rdzv_endpoint: 'node01' is not host:port"),
]

# fsdp and dataparallel (engine.train.strategy_fsdp): what this machine or recipe cannot do
_PRUNE_STEP = "methods:\n  - {type: unstructured_prune, amount: 0.5, scope: global}\n"
CASES += [
    Case("dataparallel on a CPU", _train("strategy: dataparallel, device: cpu"),
         "train.strategy: DataParallel needs 2+ CUDA GPUs; DDP is faster: use strategy ddp"),
    Case("fsdp with pruning masks", _train("strategy: fsdp"),
         "train.strategy: fsdp cannot fine-tune the pruning masks of Step 1 yet"),
    Case("fsdp with a resumable state",
         run_swapped((TRAIN, TRAIN.replace("epochs: 1", "epochs: 1, strategy: fsdp, "
                                                        "checkpoint_every: 4")),
                     (_PRUNE_STEP, "")),
         "train.strategy: fsdp cannot write a resumable training state yet"),
]
if torch.cuda.device_count() < 2:  # auto: not enough GPUs here either
    CASES.append(Case("dataparallel without 2 GPUs", _train("strategy: dataparallel"),
                      "train.strategy: DataParallel needs 2+ CUDA GPUs"))
