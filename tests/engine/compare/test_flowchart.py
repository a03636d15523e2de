"""recipe_flow: a recipe's stages in run order, keyed by the job's StageStarted names."""

from engine.compare.flowchart import flow_text, recipe_flow, train_flow
from engine.recipe import Recipe
from engine.stages import STAGES
from engine.train.train_config import TrainConfig


def _recipe(methods: list[dict], **train: object) -> Recipe:
    return Recipe.from_dict({"name": "r", "methods": methods, "train": {"epochs": 1, **train}})


def test_tiny_prune_stages_in_order() -> None:
    nodes = recipe_flow(_recipe([{"type": "unstructured_prune", "amount": 0.5}]))
    assert [n.key for n in nodes] == ["load", "baseline", "methods", "train", "save", "export",
                                      "deploy", "check"]
    assert [n.label for n in nodes][2:4] == ["1. Unstructured pruning 50%", "Fine-tune"]
    assert nodes[6].label == "Measure"  # no artifact step: the deploy stage only measures
    assert all(n.key in STAGES for n in nodes)  # every key is a stage the job announces


def test_int8_runs_in_deploy_and_distill_changes_the_loss() -> None:
    nodes = recipe_flow(_recipe([{"type": "distill"}, {"type": "int8_static"}]))
    assert [(n.key, n.label) for n in nodes if n.key in ("methods", "deploy")] == [
        ("methods", "1. Knowledge distillation"), ("deploy", "2. Int8 static with calibration")]
    train = next(n for n in nodes if n.key == "train")
    assert train.sub == ("batch 16", "forward fp32", "task + distill loss", "backward", "step")


def test_ddp_bf16_training_flow() -> None:
    r = _recipe([{"type": "unstructured_prune", "amount": 0.3}], strategy="ddp", nproc_per_node=2,
                precision="bf16", clip_grad_norm=1.0, grad_accum_steps=4)
    train = next(n for n in recipe_flow(r) if n.key == "train")
    assert " → ".join(train.sub) == ("batch 16 × 4 accum → autocast bf16 → task loss → backward → "
                                    "all-reduce over 2 ranks (ddp) → clip 1 → step")
    assert "2 processes" in train.detail


def test_fp16_uses_a_grad_scaler() -> None:
    assert "backward (grad scaler)" in train_flow(TrainConfig(precision="fp16"))


def test_no_methods_no_epochs_no_export() -> None:
    r = Recipe.from_dict({"name": "r", "train": {"epochs": 0}, "export": {"enabled": False}})
    nodes = recipe_flow(r)
    assert [n.key for n in nodes] == ["load", "train", "save", "check"]
    assert nodes[1].label == "Evaluate" and not nodes[1].sub
    assert flow_text(nodes).splitlines()[0].startswith("load: Load — builtin:tiny-gpt")
