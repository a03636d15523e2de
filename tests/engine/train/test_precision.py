"""train.precision: bf16 autocast really runs the matmuls in bf16 (CPU), fp16 is refused on CPU
by field, and (GPU only) fp16 trains through the gradient scaler."""

from __future__ import annotations

import pytest
import torch

from engine.config_fields import ConfigError
from engine.recipe import Recipe, TrainConfig
from engine.train.device_checks import FP16_ON_CPU, precision_problem
from engine.train.precision import Precision
from tests.engine.train.common import CPU, tiny_gpt, train, values

CFG = TrainConfig(epochs=4, max_steps=12, batch_size=8, lr=3e-3, eval_every=10**6, eval_batches=1, log_every=4)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_bf16_on_cpu_runs_the_linear_layers_in_bf16_and_trains():
    module = tiny_gpt()
    seen: list[torch.dtype] = []
    hook = module.blocks[0].mlp.fc.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    stats, metrics = train(module, TrainConfig(**{**CFG.__dict__, "precision": "bf16"}))
    hook.remove()
    assert seen and set(seen) == {torch.bfloat16}  # inside the forward: bf16 activations
    assert all(p.dtype == torch.float32 for p in module.parameters())  # weights stay fp32
    loss = values(metrics, "train/loss")
    assert len(loss) == 3 and loss[-1] < loss[0] - 0.3
    assert stats.setup["precision"] == "bf16"


def test_fp32_stays_fp32_inside():
    module = tiny_gpt()
    seen: list[torch.dtype] = []
    module.blocks[0].mlp.fc.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    train(module, TrainConfig(**{**CFG.__dict__, "max_steps": 2}))
    assert set(seen) == {torch.float32}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_fp16_without_a_gpu_is_refused_naming_the_field():
    assert precision_problem("fp16", "auto") == FP16_ON_CPU
    recipe = Recipe().replace(train=TrainConfig(precision="fp16"))
    errors = [str(e) for e in recipe.errors()]
    assert errors == ["train.precision: fp16 needs a CUDA GPU; use bf16 or fp32 on CPU"]
    with pytest.raises(ConfigError, match="train.precision"):
        recipe.validate()
    with pytest.raises(ValueError, match="train.precision: fp16 needs a CUDA GPU"):
        Precision("fp16", CPU)


def test_fp16_on_cpu_is_refused_even_with_a_gpu_present():
    assert precision_problem("fp16", "cpu") == FP16_ON_CPU
    assert precision_problem("bf16", "cpu") is None and precision_problem("fp32", "cpu") is None


def test_old_recipes_keep_fp32_without_accumulation_or_clipping():
    cfg = Recipe.from_yaml("name: old\ntrain: {epochs: 1, batch_size: 8, precision: fp32}\n").train
    assert (cfg.precision, cfg.grad_accum_steps, cfg.clip_grad_norm) == ("fp32", 1, None)
    assert not cfg.grad_checkpointing and not cfg.compile
    assert "grad_accum_steps" not in Recipe().replace(train=cfg).to_yaml()  # saved as before


@pytest.mark.gpu
@needs_cuda
def test_fp16_on_gpu_trains_through_the_scaler():
    module = tiny_gpt().cuda()
    precision = Precision("fp16", torch.device("cuda"))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    ids = torch.randint(0, 258, (4, 16), device="cuda")
    with precision.autocast():
        logits = module(ids)
    assert logits.dtype == torch.float16
    precision.backward(logits.float().logsumexp(-1).mean())
    info = precision.step(opt, list(module.parameters()), clip=1.0)
    assert info.loss_scale == 2.0**16 and not info.skipped
    assert precision.state_dict()["scale"] == 2.0**16


@pytest.mark.gpu
@needs_cuda
def test_fp16_skips_a_step_with_inf_gradients_and_lowers_the_scale():
    layer = torch.nn.Linear(4, 4).cuda()
    before = layer.weight.detach().clone()
    precision = Precision("fp16", torch.device("cuda"))
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    with precision.autocast():
        out = layer(torch.ones(2, 4, device="cuda"))
    precision.backward(out.sum() * float("inf"))
    info = precision.step(opt, list(layer.parameters()))
    assert info.skipped and precision.loss_scale() < info.loss_scale
    assert torch.equal(layer.weight, before)
