"""Offline teacher outputs (engine/methods/distill/offline.py): record top-k once, train without
the teacher, same loss as the online teacher on the kept classes."""

from __future__ import annotations

import pytest
import torch

from engine.data import load_data
from engine.methods.distill.losses import kd_loss
from engine.methods.distill.objective import DistillObjective, DistillSettings
from engine.methods.distill.offline import TEACHER_OUTPUTS_FILE, OfflineTeacher, record_teacher_topk
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec, TrainConfig
from engine.train.forward import forward
from engine.train.loop import make_loader
from engine.train.objective import TaskLoss
from tests.engine.distill.test_objective import CPU, _distil, _student, _teacher

K = 8


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    loaded = load_model(ModelSpec(source="builtin", path="tiny-gpt"))
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=16, max_samples=40), loaded)
    teacher = _teacher()
    path = tmp_path_factory.mktemp("offline") / TEACHER_OUTPUTS_FILE
    record = record_teacher_topk(teacher, data.train, K, path, CPU, batch_size=8)
    return data, teacher, record


def test_recorded_top_k_gives_the_online_loss_on_the_kept_classes(recorded):
    data, teacher, record = recorded
    assert record.samples == len(data.train) and record.k == K
    # values float32 + indices int32 per token, plus one key per sample (and a small header)
    assert record.file_bytes == pytest.approx(len(data.train) * (16 * K * 8 + 8), abs=1024)
    assert record.teacher_bytes > record.file_bytes
    offline = OfflineTeacher(record.path)
    student = _student()
    batch = next(iter(make_loader(data.train, 8, True, 3)))  # shuffled: rows found by content
    s_logits = forward(student, batch)
    online = forward(teacher, batch).detach()
    top = online.topk(K, dim=-1)
    kept = torch.full_like(online, float("-inf")).scatter(-1, top.indices, top.values)
    for t in (1.0, 2.0):
        got = kd_loss(s_logits, forward(offline, batch), t, batch["attention_mask"])
        want = kd_loss(s_logits, kept, t, batch["attention_mask"])
        assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-6)
    # all classes kept: exactly the online teacher's loss
    whole = OfflineTeacher(record_teacher_topk(teacher, data.train, 10**6, record.path.with_name("all.safetensors"),
                                               CPU, batch_size=8).path)  # fmt: skip
    assert float(kd_loss(s_logits, forward(whole, batch), 2.0).detach()) == pytest.approx(
        float(kd_loss(s_logits, online, 2.0).detach()), rel=1e-5)


def test_a_student_trains_from_recorded_outputs_without_the_teacher(recorded):
    data, _, record = recorded
    student = _student()
    objective = DistillObjective(TaskLoss("causal-lm"), OfflineTeacher(record.path), "causal-lm",
                                 DistillSettings(alpha=0.0, temperature=1.0))  # fmt: skip
    before = {k: v.clone() for k, v in student.state_dict().items()}
    events = _distil(student, objective, data, TrainConfig(max_steps=4, batch_size=8, eval_every=10**6,
                                                             eval_batches=1, log_every=2))  # fmt: skip
    kd = [e.value for e in events if getattr(e, "name", "") == "train/loss/kd"]
    assert len(kd) == 2 and all(torch.isfinite(torch.tensor(kd)))
    assert any(not torch.equal(v, before[k]) for k, v in student.state_dict().items())
    unseen = {"input_ids": torch.full((1, 16), 7), "attention_mask": torch.ones(1, 16, dtype=torch.long)}
    with pytest.raises(ValueError, match="record the teacher's outputs again"):
        forward(OfflineTeacher(record.path), unseen)
    with pytest.raises(ValueError, match="not a file of recorded teacher outputs"):
        bad = record.path.with_name("bad.safetensors")
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(1)}, str(bad))
        OfflineTeacher(bad)
