"""An fsdp recipe launches like a ddp one (torchrun for more than one process) and stays fsdp
under torchrun and in `workbench-cli launch`; the form shows the launch fields for it."""

from __future__ import annotations

import dataclasses
import shlex

from engine.cli import main
from engine.cli.relay import launched_setup, wants_torchrun
from engine.recipe import Recipe, TrainConfig
from tests.engine.train.test_launch import RECIPE


def test_fsdp_starts_torchrun_for_more_than_one_process_and_stays_fsdp(monkeypatch):
    base = Recipe.from_yaml(RECIPE)
    fsdp = lambda **kw: base.replace(train=dataclasses.replace(base.train, strategy="fsdp", **kw))  # noqa: E731
    assert not wants_torchrun(fsdp()) and wants_torchrun(fsdp(nproc_per_node=2))
    assert fsdp(nproc_per_node=2, nnodes=3, rdzv_endpoint="h:1").train.processes == 6
    assert base.replace(train=dataclasses.replace(base.train, strategy="dataparallel",
                                                  nproc_per_node=2)).train.processes == 1
    for k, v in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(k, v)
    assert launched_setup(TrainConfig(strategy="fsdp")).strategy == "fsdp"
    assert launched_setup(TrainConfig(strategy="single")).strategy == "ddp"


def test_launch_keeps_fsdp_in_the_recipe_it_checks(tmp_path, capsys):
    recipe = tmp_path / "exp.yaml"
    recipe.write_text(RECIPE.replace("device: cpu}", "device: cpu, strategy: fsdp}"))
    code = main(["launch", str(recipe), "--nproc-per-node", "2", "--print"])
    assert code == 0
    words = shlex.split(capsys.readouterr().out.splitlines()[0])
    assert words[:3] == ["torchrun", "--nproc-per-node", "2"]
    # ... and so fsdp's own refusals apply there too
    recipe.write_text(RECIPE.replace("device: cpu}", "device: cpu, strategy: fsdp, "
                                     "checkpoint_every: 1}"))  # fmt: skip
    code = main(["launch", str(recipe), "--nproc-per-node", "2", "--print"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "fsdp cannot write a resumable" in err[0]


def test_the_launch_fields_show_for_fsdp():
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name in ("nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint"):
        assert set(fields[name].metadata["shown_when"]["strategy"]) == {"ddp", "fsdp", "deepspeed"}
    assert set(fields["strategy"].metadata["choices"]) == {
        "single", "ddp", "fsdp", "dataparallel", "model_parallel", "deepspeed"}
