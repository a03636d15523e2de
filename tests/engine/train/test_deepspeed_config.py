"""The DeepSpeed config generated from the train section, key by key, and what is refused
before a deepspeed run: offloading parameters below ZeRO stage 3, and this machine when it
lacks the package or a CUDA GPU (one `error:` line from the CLI, exit 2)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine.cli import main
from engine.recipe import TrainConfig
from engine.train.deepspeed_config import OFFLOAD_NEEDS_STAGE3, config_text, deepspeed_config
from engine.train.device_checks import deepspeed_problem
from tests.engine.conftest import TINY_RECIPE

DS = TrainConfig(strategy="deepspeed", batch_size=8, grad_accum_steps=4)


def test_the_defaults_give_zero_2_at_fp32_without_clipping_or_offload():
    c = deepspeed_config(DS)
    assert c["train_micro_batch_size_per_gpu"] == 8
    assert c["gradient_accumulation_steps"] == 4
    assert c["zero_optimization"] == {"stage": 2}
    assert "train_batch_size" not in c  # DeepSpeed derives it from the world it runs in
    for absent in ("gradient_clipping", "bf16", "fp16", "optimizer", "scheduler",
                   "zero_force_ds_cpu_optimizer"):  # fmt: skip
        assert absent not in c


def test_bf16_stage_1_with_clipping():
    c = deepspeed_config(dataclasses.replace(DS, precision="bf16", deepspeed_stage=1,
                                             clip_grad_norm=0.5))  # fmt: skip
    assert c["bf16"] == {"enabled": True} and "fp16" not in c
    assert c["gradient_clipping"] == 0.5
    assert c["zero_optimization"] == {"stage": 1}


def test_fp16_has_dynamic_loss_scaling():
    c = deepspeed_config(dataclasses.replace(DS, precision="fp16"))
    assert c["fp16"] == {"enabled": True, "loss_scale": 0, "initial_scale_power": 16,
                         "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1}
    assert "bf16" not in c


def test_offloads_go_to_cpu_with_pinned_memory_on_cuda():
    opt = deepspeed_config(dataclasses.replace(DS, deepspeed_offload="optimizer"))
    assert opt["zero_optimization"] == {"stage": 2,
                                        "offload_optimizer": {"device": "cpu", "pin_memory": True}}
    assert opt["zero_force_ds_cpu_optimizer"] is False  # the loop's AdamW steps the CPU copy
    both = deepspeed_config(dataclasses.replace(DS, deepspeed_stage=3,
                                                deepspeed_offload="optimizer_and_params"))
    zero = both["zero_optimization"]
    assert zero["stage"] == 3
    assert zero["offload_optimizer"] == zero["offload_param"] == {"device": "cpu",
                                                                  "pin_memory": True}
    cpu = deepspeed_config(dataclasses.replace(DS, deepspeed_offload="optimizer"), "cpu")
    assert cpu["zero_optimization"]["offload_optimizer"]["pin_memory"] is False


def test_the_json_text_is_the_dict():
    cfg = dataclasses.replace(DS, precision="bf16", deepspeed_stage=3)
    assert json.loads(config_text(cfg)) == deepspeed_config(cfg)


def test_offloading_parameters_below_stage_3_is_refused_naming_the_field():
    bad = dataclasses.replace(DS, deepspeed_stage=2, deepspeed_offload="optimizer_and_params")
    assert ("deepspeed_offload", OFFLOAD_NEEDS_STAGE3) in bad.extra_checks()
    ok = dataclasses.replace(bad, deepspeed_stage=3)
    assert all(field not in ("deepspeed_offload", "compile") for field, _ in ok.extra_checks())
    compiled = dataclasses.replace(ok, compile=True)
    assert any(f == "compile" and "strategy deepspeed" in m for f, m in compiled.extra_checks())


def _run(tmp_path, capsys, train_extra: str) -> tuple[int, list[str]]:
    text = TINY_RECIPE.replace("epochs: 1", f"epochs: 1, {train_extra}")
    recipe = tmp_path / "ds.yaml"
    recipe.write_text(text)
    capsys.readouterr()
    code = main(["run", str(recipe), "-w", str(tmp_path / "ws"), "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.skipif(deepspeed_problem() is None, reason="this machine can run deepspeed")
def test_the_cli_refuses_deepspeed_here_in_one_line(tmp_path, capsys):
    code, errors = _run(tmp_path, capsys, "strategy: deepspeed")
    assert code == 2 and len(errors) == 1
    assert f"train.strategy: {deepspeed_problem()}" in errors[0]
    assert not (tmp_path / "ws" / "runs").exists()  # refused before a run was registered


def test_the_cli_names_the_offload_field(tmp_path, capsys):
    code, errors = _run(tmp_path, capsys, "strategy: deepspeed, deepspeed_stage: 1, "
                                          "deepspeed_offload: optimizer_and_params")
    assert code == 2 and len(errors) == 1
    assert "train.deepspeed_offload: optimizer_and_params offloads the parameters" in errors[0]


def test_deepspeed_runs_under_torchrun_and_stays_deepspeed(monkeypatch):
    from engine.cli.relay import launched_setup, wants_torchrun
    from engine.recipe import Recipe

    base = Recipe.from_yaml(TINY_RECIPE)
    two = base.replace(train=dataclasses.replace(base.train, strategy="deepspeed", nproc_per_node=2))
    assert wants_torchrun(two) and two.train.processes == 2
    for k, v in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(k, v)
    assert launched_setup(DS).strategy == "deepspeed"  # each rank trains with DeepSpeed, not ddp


def test_zero3_with_pruning_masks_is_refused_naming_the_stage():
    from engine.recipe import Recipe

    recipe = Recipe.from_yaml(TINY_RECIPE.replace("epochs: 1", "epochs: 1, strategy: deepspeed, "
                                                  "deepspeed_stage: 3"))  # fmt: skip
    assert any(e.path == "train.deepspeed_stage" and "pruning masks of Step 1" in e.message
               for e in recipe.errors())  # fmt: skip
    stage2 = Recipe.from_yaml(TINY_RECIPE.replace("epochs: 1", "epochs: 1, strategy: deepspeed"))
    assert not any(e.path == "train.deepspeed_stage" for e in stage2.errors())
