"""The torchrun command and Slurm script for given settings, and `workbench-cli launch`."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from engine.cli import main
from engine.recipe import TrainConfig
from engine.train.launch import Launch, job_args, shell_line, slurm_script, torchrun_argv

RECIPE = """name: ddp-tiny
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 16, max_samples: 40}
train: {epochs: 1, max_steps: 2, batch_size: 4, device: cpu}
export: {enabled: false}
"""


def test_one_node_runs_standalone_and_several_meet_at_the_rendezvous():
    cfg = TrainConfig(strategy="ddp", nproc_per_node=2)
    job = job_args(Path("r.yaml"))
    assert torchrun_argv(Launch.of(cfg), job) == [
        "torchrun", "--nproc-per-node", "2", "--standalone",
        "-m", "engine.cli", "run", "r.yaml", "--events-json"]  # fmt: skip
    multi = dataclasses.replace(cfg, nnodes=3, node_rank=1, rdzv_endpoint="node01:29400")
    argv = torchrun_argv(Launch.of(multi, job_id="exp"), job_args(Path("r.yaml"), "v2",
                                                                  Path("ws"), False))  # fmt: skip
    assert argv == [
        "torchrun", "--nproc-per-node", "2", "--nnodes", "3", "--node-rank", "1",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", "node01:29400", "--rdzv-id", "exp",
        "-m", "engine.cli", "run", "r.yaml", "--name", "v2", "--workspace", "ws", "--quiet"]  # fmt: skip
    # the local form runs torchrun as a module of this interpreter
    local = torchrun_argv(Launch.of(cfg), job, python="/py")
    assert local[:3] == ["/py", "-m", "torch.distributed.run"] and local[3:] == \
        torchrun_argv(Launch.of(cfg), job)[1:]  # fmt: skip


def test_slurm_script_starts_one_torchrun_per_node_with_the_first_node_as_rendezvous():
    text = slurm_script(Launch(4, 2), job_args(Path("/data/my recipe.yaml"), events_json=False),
                        "exp", gpus=True)  # fmt: skip
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert {"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1",
            "#SBATCH --gpus-per-node=4", "#SBATCH --job-name=exp"} <= set(lines)  # fmt: skip
    srun = next(line for line in lines if line.startswith("srun "))
    # the shell sees one word per argument: the path with its space, the variables expanded
    words = shlex.split(srun)
    assert words[:2] == ["srun", "torchrun"]
    assert words[words.index("--rdzv-endpoint") + 1] == "$head_node:29500"
    assert words[words.index("--rdzv-id") + 1] == "$SLURM_JOB_ID"
    assert '"$head_node:29500"' in srun and "'/data/my recipe.yaml'" in srun
    assert "--node-rank" not in words  # c10d numbers the nodes as they join
    assert words[words.index("--nnodes") + 1] == "2"
    assert any(line.startswith("head_node=$(scontrol show hostnames") for line in lines)
    assert "--gpus-per-node" not in slurm_script(Launch(4, 2), ["run", "r"], "exp", gpus=False)
    assert shell_line(["a b", "c"]) == "'a b' c"


def test_launch_prints_the_command_and_writes_the_script_next_to_the_recipe(tmp_path, capsys):
    recipe = tmp_path / "exp.yaml"
    recipe.write_text(RECIPE)
    code = main(["launch", str(recipe), "--nnodes", "2", "--nproc-per-node", "3", "--print"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    words = shlex.split(out[0].replace('"$head_node:29500"', "HEAD:29500"))
    assert words[:3] == ["torchrun", "--nproc-per-node", "3"] and "--nnodes" in words
    script = tmp_path / "exp.slurm"
    assert script.is_file() and "#SBATCH --nodes=2" in script.read_text()
    assert str(recipe.resolve()) in script.read_text()


def test_launch_refuses_bad_settings_in_one_line(tmp_path, capsys):
    recipe = tmp_path / "exp.yaml"
    recipe.write_text(RECIPE)
    code = main(["launch", str(recipe), "--nnodes", "2", "--node-rank", "2", "--print"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: train.node_rank:")
    # running (not printing) across nodes needs the rendezvous endpoint
    code = main(["launch", str(recipe), "--nnodes", "2", "--nproc-per-node", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "train.rdzv_endpoint" in err[0]
    code = main(["launch", str(tmp_path / "missing.yaml"), "--print"])
    assert code == 2 and "missing.yaml" in capsys.readouterr().err
    assert not (tmp_path / "missing.slurm").exists() and not (tmp_path / "exp.slurm").exists()


def test_run_starts_torchrun_only_for_more_than_one_process(monkeypatch):
    from engine.cli.relay import wants_torchrun
    from engine.recipe import Recipe

    base = Recipe.from_yaml(RECIPE)
    ddp = lambda **kw: base.replace(train=dataclasses.replace(base.train, strategy="ddp", **kw))  # noqa: E731
    assert not wants_torchrun(base) and not wants_torchrun(ddp())  # a ddp world of one
    assert wants_torchrun(ddp(nproc_per_node=2))
    assert wants_torchrun(ddp(nnodes=2, rdzv_endpoint="h:1"))
    monkeypatch.setenv("RANK", "0")  # already one of torchrun's ranks: run the job here
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not wants_torchrun(ddp(nproc_per_node=2))


def test_under_torchrun_the_setup_is_what_torchrun_launched(monkeypatch):
    from engine.cli.relay import launched_setup

    # e.g. a Slurm job of 2 nodes x 4: the recipe's own numbers do not matter any more
    cfg = TrainConfig(strategy="single", nnodes=2)
    assert any(field == "rdzv_endpoint" for field, _ in
               dataclasses.replace(cfg, strategy="ddp").extra_checks())  # fmt: skip
    for k, v in {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1"}.items():
        monkeypatch.setenv(k, v)
    assert dataclasses.replace(cfg, strategy="ddp").extra_checks() == []  # launched already
    got = launched_setup(cfg)
    assert (got.strategy, got.nproc_per_node, got.nnodes, got.node_rank) == ("ddp", 4, 2, 1)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert launched_setup(cfg) == cfg  # one process: the recipe as it is
