"""Did it really shrink? shrink_report on a real pruned variant, and on cards derived from it."""

from __future__ import annotations

import copy
import zipfile

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from engine.export import onnx_zip_bytes
from engine.shrink import pruning_kinds, shrink_report, shrink_text
from engine.shrink_verdict import speed_phrase
from engine.store import Workspace


@pytest.fixture(scope="module")
def cards(finished_job) -> tuple[dict, dict]:
    """(pruned variant card, parent card) from the real tiny job."""
    ws, result, _ = finished_job
    store = Workspace(ws)
    card = store.get(result.run_id).card
    return card, store.get(card["parent"]).card


def _structured(parent: dict, keep: float = 0.6, speedup: float = 1.5) -> dict:
    """A structured variant's card: the parent's card with tensors and latency cut."""
    card = copy.deepcopy(parent)
    card["method"] = "structured_prune(amount=0.4, granularity=channel)"
    card["parent"] = parent["id"]
    params = parent["model"]["params"]
    card["model"].update(params=int(params * keep), nonzero_params=int(params * keep) - 100,
                         params_before=params)
    card["onnx"].update(size_bytes=int(parent["onnx"]["size_bytes"] * keep),
                        zip_bytes=int(parent["onnx"]["zip_bytes"] * keep),
                        latency_ms_p50=parent["onnx"]["latency_ms_p50"] / speedup)
    return card


def test_zip_bytes_is_what_zipfile_stores_and_smaller_for_pruned(cards, tmp_path):
    card, parent = cards
    onnx = card["onnx"]
    assert 0 < onnx["zip_bytes"] < onnx["size_bytes"]
    # half the weights are zeros and zeros compress: trained fp32 values alone barely do (~0.93),
    # so the zip holds little more than the non-zero half. (Not against the parent: the shipped
    # weights are stored as fp16, whose zero low bits compress as well as the pruned zeros.)
    assert onnx["zip_bytes"] / onnx["size_bytes"] < 0.75
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.write(onnx["path"], "model.onnx")
    with zipfile.ZipFile(archive) as z:
        assert z.getinfo("model.onnx").compress_size == onnx_zip_bytes(onnx["path"]) == onnx["zip_bytes"]


def test_zip_bytes_counts_external_data_too(tmp_path):
    weight = np.zeros((256, 256), dtype=np.float32)
    weight[::7] = np.random.default_rng(0).standard_normal((37, 256))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 256])],
        [numpy_helper.from_array(weight, "w")],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path), save_as_external_data=True,
              location="m.onnx.data", size_threshold=0)
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.write(path, "m.onnx")
        z.write(tmp_path / "m.onnx.data", "m.onnx.data")
    with zipfile.ZipFile(archive) as z:
        stored = sum(i.compress_size for i in z.infolist())
    assert onnx_zip_bytes(path) == stored
    assert stored < 0.3 * weight.nbytes  # mostly zeros: the data file deflates well


@pytest.fixture(scope="module")
def control(cards, finished_job, tmp_path_factory) -> dict:
    """The card of the pruned variant's dense fine-tuned control (a real run, in a copy).

    The fair parent for size: the shipped weights are stored as fp16, so the untrained
    baseline's file compresses as well as zeros do, and only a trained dense model is a
    like-for-like zip to compare with.
    """
    import shutil

    from engine.fair_parent import control_recipe
    from engine.job import Job

    ws = tmp_path_factory.mktemp("shrink-control") / "ws"
    shutil.copytree(finished_job[0], ws)
    child = Workspace(ws).get(finished_job[1].run_id)
    result = Job(control_recipe(child), workspace=ws).run()
    assert result.ok, result.error
    return Workspace(ws).get(result.run_id).card


def test_unstructured_variant_keeps_dense_tensors(cards, control):
    card, parent = cards[0], control
    r = shrink_report(card, parent)
    assert r["kinds"] == ["masks"]
    params = card["model"]["params"]
    assert r["params_dense"] == r["params_present"] == params == parent["model"]["params"]
    assert r["params_nonzero"] == card["model"]["nonzero_params"] < 0.6 * params
    assert r["onnx_bytes"] == card["onnx"]["size_bytes"]
    assert r["parent_onnx_bytes"] == parent["onnx"]["size_bytes"]
    assert r["size_ratio"] == pytest.approx(card["onnx"]["size_bytes"] / parent["onnx"]["size_bytes"])
    assert 0.95 < r["size_ratio"] < 1.05  # same dense tensors, same file size
    assert r["zip_ratio"] < 0.85
    # the control is not the parent the deploy stage timed it with: the export's own figures
    assert not r["latency_side_by_side"]
    assert r["speedup"] == pytest.approx(parent["onnx"]["latency_ms_p50"] / card["onnx"]["latency_ms_p50"])
    # against its real parent the side-by-side figures are used
    fp32 = card["artifacts"][0]
    own = shrink_report(card, {**parent, "id": card["parent"]})
    assert fp32["kind"] == "onnx-fp32" and own["latency_side_by_side"]
    assert own["speedup"] == pytest.approx(fp32["speedup_vs_parent"])
    assert r["verdict"].startswith("Zeros, not smaller tensors")
    assert f"only the zip shrinks ({r['zip_ratio']:.2f}×)" in r["verdict"]
    assert any(
        line.startswith("unstructured sparsity keeps dense tensors: ONNX size and dense-kernel latency are unchanged")
        and "Use structured pruning or N:M for speed" in line
        for line in r["reasons"]
    )
    assert r["outcome"] == "zip_only"
    # whatever the timer said, zeros in dense tensors are not credited with a speed-up
    assert any(
        "within measurement noise" in line or "cannot come from the zeros" in line
        for line in r["reasons"]
    )
    assert r["measured"][:3] == [
        f"ONNX file {card['onnx']['size_bytes'] / 1e6:.2f} MB vs the parent's "
        f"{parent['onnx']['size_bytes'] / 1e6:.2f} MB ({r['size_ratio']:.2f}×, about the same)",
        f"zipped {card['onnx']['zip_bytes'] / 1e6:.2f} MB vs the parent's "
        f"{parent['onnx']['zip_bytes'] / 1e6:.2f} MB ({r['zip_ratio']:.2f}×, smaller)",
        f"latency p50 {card['onnx']['latency_ms_p50']:.2f} ms vs the parent's "
        f"{parent['onnx']['latency_ms_p50']:.2f} ms ({speed_phrase(r['speedup'])})",
    ]


def test_structured_variant_is_smaller_and_faster(cards):
    _, parent = cards
    r = shrink_report(_structured(parent), parent)
    assert r["kinds"] == ["smaller"]
    assert r["params_present"] < r["params_dense"] == parent["model"]["params"]
    assert r["size_ratio"] == pytest.approx(0.6, abs=1e-3)
    assert r["speedup"] == pytest.approx(1.5)
    assert r["latency_noise"] is False and r["outcome"] == "smaller_faster"
    assert r["verdict"] == f"Yes: {r['size_ratio']:.2f}× the parent's ONNX size and 1.50× faster."
    assert r["reasons"][0].startswith("40% of the parameters were removed physically")


def test_sentences_name_the_dense_control_when_it_is_the_comparison(cards, control):
    """Against the control, no sentence may call it 'the parent' (the card says which it is)."""
    r = shrink_report(_structured(control), control, "control")
    text = " ".join([r["verdict"], *r["reasons"], *r["measured"]])
    assert "the control's" in r["verdict"] and "the parent's" not in text
    assert shrink_report(_structured(control), control)["verdict"].count("the parent's") == 1


def test_latency_within_noise_is_called_noise(cards):
    _, parent = cards
    r = shrink_report(_structured(parent, speedup=1.03), parent)
    assert r["latency_noise"] is True and r["outcome"] == "smaller"
    assert "latency 1.03× the parent's speed is within measurement noise (±5%)" in r["reasons"]
    assert r["verdict"].startswith("Smaller (0.60× the parent's ONNX size) but not faster")
    assert "within measurement noise" in r["verdict"]


def test_nm_variant_explains_sparse_tensor_cores(cards):
    card, parent = cards
    nm = copy.deepcopy(card)
    nm["method"] = "nm_prune(n=2, m=4, criterion=magnitude)"
    r = shrink_report(nm, parent)
    assert r["kinds"] == ["masks"]
    assert (
        "2:4 sparsity needs sparse tensor cores (e.g. NVIDIA Ampere+ with TensorRT); "
        "onnxruntime's CPU kernels run it dense"
    ) in r["reasons"]
    nm["method"] = "nm_prune(n=1, m=4, criterion=magnitude)"
    assert any(line.startswith("1:4 sparsity has no fast kernel") for line in shrink_report(nm, parent)["reasons"])


def test_missing_parent_or_onnx_is_said(cards):
    card, parent = cards
    r = shrink_report(card, None)
    assert r["verdict"].startswith("No parent variant to compare with")
    assert r["outcome"] == "missing" and r["measured"] == []
    assert r["speedup"] is None and r["params_nonzero"] == card["model"]["nonzero_params"]
    no_onnx = dict(card, onnx=None)
    assert shrink_report(no_onnx, parent)["verdict"].startswith("Not exported to ONNX yet")
    assert shrink_report(card, dict(parent, onnx=None))["verdict"].startswith("The parent has no ONNX export")
    old = copy.deepcopy(card)
    del old["onnx"]["zip_bytes"]  # a card written before zip sizes existed
    r = shrink_report(old, parent)
    assert r["zip_bytes"] is None and r["zip_ratio"] is None
    assert any("zip size not recorded" in line for line in r["reasons"])


def test_pruning_kinds_from_method_text():
    # what each step leaves comes from the registry (an old alias resolves too)
    assert pruning_kinds("magnitude_prune(amount=0.5, scope=global)") == ["masks"]
    assert pruning_kinds("structured_prune(amount=0.3) + nm_prune(n=2, m=4)") == ["smaller", "masks"]
    assert pruning_kinds("none") == []


def test_shrink_text_for_the_terminal(cards):
    card, parent = cards
    r = shrink_report(card, parent)
    lines = shrink_text(r).splitlines()
    assert lines[0] == f"did it shrink? {r['verdict']}"
    model = card["model"]
    assert lines[1] == (f"  parameters: dense {model['params_before']:,} · present {model['params']:,}"
                        f" · non-zero {model['nonzero_params']:,}")
    n = len(r["measured"])
    assert lines[2:2 + n] == [f"  {m}" for m in r["measured"]]
    assert lines[2 + n:] == [f"  - {m}" for m in r["reasons"]]
    # the metric is measured against the parent next to size and latency
    assert r["measured"][-1].startswith("perplexity ")
    assert "vs the parent's" in r["measured"][-1]


def _with_accuracy(card: dict, value: float) -> dict:
    out = copy.deepcopy(card)
    out["metrics"] = {"loss": 1.0, "accuracy": value}
    return out


def test_smaller_and_faster_but_less_accurate_is_not_a_yes(cards):
    _, parent = cards
    parent = _with_accuracy(parent, 0.325)
    child = _with_accuracy(_structured(parent), 0.225)
    r = shrink_report(child, parent)
    assert r["outcome"] == "smaller_faster" and r["metric"]["change"] == "lost"
    assert not r["verdict"].startswith("Yes")
    # 10 points is past the 5-point collapse limit: the verdict is the collapse (tests/engine/
    # test_collapse.py); the size and speed verdict beside it still names the loss first
    assert r["collapsed"] and r["verdict"].startswith("Collapsed: accuracy fell from 32.5% to 22.5%")
    assert r["size_verdict"].startswith("Smaller and faster, but accuracy fell from 32.5% to 22.5% (−10.0 pts)")
    assert "accuracy 22.5% vs the parent's 32.5% (−10.0 pts)" in r["measured"]
    # within the 1-point tolerance it is still a plain yes
    same = shrink_report(_with_accuracy(_structured(parent), 0.32), parent)
    assert same["metric"]["change"] == "kept" and same["verdict"].startswith("Yes:")
    # a perplexity that rose beyond 2% is named on any outcome
    lm = copy.deepcopy(_structured(parent, speedup=1.0))
    lm["metrics"], parent["metrics"] = {"perplexity": 30.0}, {"perplexity": 20.0}
    r = shrink_report(lm, parent)
    assert r["outcome"] == "smaller" and "And perplexity rose from 20 to 30 (+10)" in r["verdict"]


def test_a_fine_tuned_child_of_an_untrained_parent_is_flagged(cards):
    from engine.fair_parent import PARENT_NOTE

    card, parent = cards
    assert card["train"]["steps"] > 0 and parent["train"] is None  # the real tiny job
    r = shrink_report(card, parent)
    assert r["parent_note"] == PARENT_NOTE and r["reasons"][0].startswith(PARENT_NOTE)
    trained_parent = dict(parent, train={"steps": 8})
    assert shrink_report(card, trained_parent)["parent_note"] is None

