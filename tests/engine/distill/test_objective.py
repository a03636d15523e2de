"""The distillation objective (engine/methods/distill/objective.py) inside the real training loop.

Tiny models on a few Shakespeare blocks: the teacher is a random tiny-gpt whose lm_head is
scaled up so its top-1 choices are decided (a constructed task the student can only learn
from the teacher); the student is narrower and shallower.
"""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from engine.context import JobCancelled, JobContext, JobControl
from engine.data import load_data
from engine.events import Metric
from engine.methods.distill.capture import capture, use_eager_attention
from engine.methods.distill.losses import agreement
from engine.methods.distill.objective import DistillObjective, DistillSettings
from engine.models.builtin import build_tiny_module
from engine.models.hf import HFLogitsWrapper
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec, TrainConfig
from engine.train.forward import forward
from engine.train.loop import fine_tune
from engine.train.objective import PART_PREFIX, TaskLoss

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    return load_data(DataSpec(source="builtin", path="shakespeare", max_length=16, max_samples=80), loaded)


def _teacher():
    torch.manual_seed(0)
    teacher = build_tiny_module("tiny-gpt", {"d_model": 48, "n_layer": 2, "n_head": 2})
    with torch.no_grad():
        teacher.lm_head.weight.mul_(40)  # decided top-1 choices
    return teacher


def _student(d_model=32, n_layer=1):
    torch.manual_seed(1)
    return build_tiny_module("tiny-gpt", {"d_model": d_model, "n_layer": n_layer, "n_head": 2})


def _val_agreement(student, teacher, data):
    batch = {k: torch.stack([data.val[i][k] for i in range(len(data.val))]) for k in ("input_ids", "attention_mask")}
    student.eval()
    with torch.no_grad():
        return float(agreement(forward(student, batch), forward(teacher, batch), batch["attention_mask"]))


def _distil(student, objective, data, cfg, emit=None, control=None, **kw):
    events: list = []
    ctx = JobContext(emit or events.append, control or JobControl())
    fine_tune(student, "causal-lm", data.train, data.val, cfg, ctx, CPU, objective=objective, **kw)
    return events


CFG = TrainConfig(max_steps=30, epochs=5, batch_size=8, lr=3e-3, eval_every=10**6, eval_batches=1, log_every=10)


def test_a_distilled_student_moves_towards_its_teacher_and_each_part_is_a_metric(data):
    teacher = _teacher()
    settings = DistillSettings(alpha=0.0, temperature=1.0, hidden_weight=0.5, attention_weight=0.5)
    distilled, task_only = _student(), _student()
    before = _val_agreement(distilled, teacher, data)
    events = _distil(distilled, DistillObjective(TaskLoss("causal-lm"), teacher, "causal-lm", settings), data, CFG)
    _distil(task_only, DistillObjective(TaskLoss("causal-lm"), teacher, "causal-lm", DistillSettings(alpha=1.0)),
            data, CFG)  # fmt: skip
    after, baseline = _val_agreement(distilled, teacher, data), _val_agreement(task_only, teacher, data)
    assert before < 0.05 and after > 0.15 and after > 3 * baseline
    parts = {}
    for e in events:
        if isinstance(e, Metric) and e.name.startswith(PART_PREFIX):
            parts.setdefault(e.name.removeprefix(PART_PREFIX), []).append(e.value)
    assert set(parts) == {"task", "kd", "hidden", "attention", "agreement"}
    assert len(parts["kd"]) == 3 and parts["kd"][-1] < parts["kd"][0]
    assert parts["agreement"][-1] > parts["agreement"][0]


def test_a_projection_is_learned_only_where_widths_differ(data):
    teacher = _teacher()
    on = DistillSettings(hidden_weight=1.0)
    narrow = DistillObjective(TaskLoss("causal-lm"), teacher, "causal-lm", on)
    narrow.prepare(_student(d_model=32, n_layer=2))
    assert narrow.layer_map == [0, 1]
    assert sorted(narrow.projections) == ["0", "1"]
    assert tuple(narrow.projections["0"].weight.shape) == (48, 32)
    same = DistillObjective(TaskLoss("causal-lm"), teacher, "causal-lm", on)
    same.prepare(_student(d_model=48, n_layer=2))
    assert len(same.projections) == 0 and not list(same.parameters())
    # the projection trains with the student and the teacher stays as it was
    student = _student(d_model=32, n_layer=2)
    objective = DistillObjective(TaskLoss("causal-lm"), teacher, "causal-lm", on)
    t_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    objective.prepare(student)
    p_before = objective.projections["1"].weight.detach().clone()
    _distil(student, objective, data, TrainConfig(max_steps=3, batch_size=8, eval_every=10**6, eval_batches=1))
    assert not torch.equal(objective.projections["1"].weight, p_before)
    assert all(torch.equal(v, t_before[k]) for k, v in teacher.state_dict().items())
    assert not any(k.startswith("teacher") for k in objective.state_dict())


def test_resume_mid_distillation_continues_exactly(data, tmp_path):
    cfg = TrainConfig(max_steps=12, epochs=2, batch_size=8, lr=3e-3, eval_every=100, log_every=4, checkpoint_every=6)
    settings = DistillSettings(alpha=0.3, hidden_weight=1.0, hidden_kind="cosine")

    def run(state, **kw):
        student = _student(n_layer=2)
        objective = DistillObjective(TaskLoss("causal-lm"), _teacher(), "causal-lm", settings)
        _distil(student, objective, data, cfg, state_path=state, **kw)
        return student, objective

    whole, whole_obj = run(tmp_path / "a.pt")
    control = JobControl()

    def stop_after_8(event):
        if isinstance(event, Metric) and event.name == "train/loss" and event.step >= 8:
            control.cancel()

    with pytest.raises(JobCancelled):
        run(tmp_path / "b.pt", emit=stop_after_8, control=control)
    state = torch.load(tmp_path / "b.pt", weights_only=True)
    assert state["step"] == 6 and sorted(state["objective"]) == [
        "projections.0.bias", "projections.0.weight", "projections.1.bias", "projections.1.weight"]
    resumed, resumed_obj = run(tmp_path / "b.pt", resume=True)
    for a, b in ((whole, resumed), (whole_obj, resumed_obj)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)
    # a state from a run without the projections is refused in one line
    with pytest.raises(ValueError, match="resume with the recipe"):
        student = _student(n_layer=2)
        plain = DistillObjective(TaskLoss("causal-lm"), _teacher(), "causal-lm", DistillSettings())
        _distil(student, plain, data, cfg, state_path=tmp_path / "b.pt", resume=True)


def test_attention_probabilities_of_builtin_and_hugging_face_models():
    ids = torch.randint(0, 90, (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    gpt = _student(n_layer=2)
    with capture(gpt, (), attention=True) as got:
        forward(gpt, {"input_ids": ids, "attention_mask": mask})
    probs = got.attention
    assert probs.shape == (2, 2, 6, 6) and torch.allclose(probs.sum(-1), torch.ones(2, 2, 6))
    assert probs[0, :, 0, 1:].abs().max() == 0  # causal: the first token sees only itself
    assert probs[1, :, 5, 4:].abs().max() < 1e-30  # padded keys get nothing
    config = BertConfig(vocab_size=90, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, attn_implementation="sdpa")  # fmt: skip
    bert = HFLogitsWrapper(BertForSequenceClassification(config)).train()
    with pytest.raises(ValueError, match="BertForSequenceClassification.*attention_weight"):
        with capture(bert, (), attention=True):
            forward(bert, {"input_ids": ids, "attention_mask": mask})
    use_eager_attention(bert)
    with capture(bert, (), attention=True) as got:
        forward(bert, {"input_ids": ids, "attention_mask": mask})
    # rows are whole distributions in training mode too (HF returns them after dropout)
    assert torch.allclose(got.attention.sum(-1), torch.ones(2, 2, 6))
    assert bert.model.bert.encoder.layer[1].attention.self.training


def test_settings_and_layer_maps_that_cannot_run_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        DistillSettings(alpha=1.5).check()
    with pytest.raises(ValueError, match="temperature"):
        DistillObjective(TaskLoss("causal-lm"), _teacher(), "causal-lm", DistillSettings(temperature=0))
    bad_map = DistillObjective(TaskLoss("causal-lm"), _teacher(), "causal-lm",
                               DistillSettings(hidden_weight=1.0, layer_map=(0, 2)))  # fmt: skip
    with pytest.raises(ValueError, match=r"layer_map names teacher block\(s\) \[2\].*0..1"):
        bad_map.prepare(_student(n_layer=2))


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_hugging_face_teacher_and_student_with_every_loss(family):
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(layers, width):
        torch.manual_seed(layers)
        if family == "bert":
            return HFLogitsWrapper(BertForSequenceClassification(BertConfig(
                vocab_size=90, hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
                intermediate_size=2 * width, num_labels=3)))  # fmt: skip
        return HFLogitsWrapper(LlamaForCausalLM(LlamaConfig(
            vocab_size=90, hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
            num_key_value_heads=2, intermediate_size=2 * width)))  # fmt: skip

    task = "classification" if family == "bert" else "causal-lm"
    teacher, student = build(4, 64), build(2, 32).train()
    settings = DistillSettings(hidden_weight=1.0, attention_weight=1.0)
    objective = DistillObjective(TaskLoss(task), teacher, task, settings)
    objective.prepare(student)
    assert objective.layer_map == [1, 3] and sorted(objective.projections) == ["0", "1"]
    ids = torch.randint(0, 90, (3, 10))
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[0, 7:] = 0
    labels = ids if task == "causal-lm" else torch.tensor([0, 1, 2])
    loss, parts = objective.loss(student, {"input_ids": ids, "attention_mask": mask, "labels": labels})
    loss.backward()
    assert set(parts) == {"task", "kd", "hidden", "attention", "agreement"}
    assert all(torch.isfinite(v) for v in parts.values())
    s = settings
    expected = (s.alpha * parts["task"] + (1 - s.alpha) * parts["kd"] + parts["hidden"] + parts["attention"])
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    assert objective.projections["1"].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
