"""ONNX export beyond the happy path: generic inputs, fallbacks, failures, files on disk."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from engine.export import (
    ExportError,
    check_model,
    compare_with_torch,
    export_and_check,
    export_onnx,
    measure_latency,
    onnx_size_bytes,
)
from engine.recipe import ExportConfig
from tests.engine.test_export import TEXT_INPUTS, VOCAB, TinyGPT, text_batch, tiny_llama


def gpt(seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT().eval()


def ort_logits(path, feeds: dict[str, torch.Tensor]) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]


def leftovers(folder) -> list[str]:
    """Anything in the folder besides the model and its data file (temp files, dirs)."""
    return sorted(
        p.name for p in folder.iterdir() if p.name not in ("model.onnx", "model.onnx.data")
    )


@pytest.fixture(scope="module")
def ts_gpt(tmp_path_factory):
    """A tiny GPT exported once with the (fast) TorchScript exporter."""
    folder = tmp_path_factory.mktemp("ts")
    module = gpt()
    path = export_onnx(
        module, text_batch(2, 8), TEXT_INPUTS, folder / "model.onnx", exporter="torchscript"
    )
    return module, path


# -- a generic (non-text) model ----------------------------------------------------------
class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 5),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_conv_model_with_one_input_is_batch_dynamic(tmp_path):
    torch.manual_seed(0)
    module = ConvNet()
    g = torch.Generator().manual_seed(1)
    images = [(torch.randn(b, 3, 16, 16, generator=g),) for b in (2, 3)]
    # a batch-1 example: torch.export would bake a size of 1 into the graph
    report = export_and_check(
        module,
        ["input"],
        (torch.randn(1, 3, 16, 16),),
        images,
        (torch.randn(4, 3, 16, 16),),
        tmp_path / "model.onnx",
        ExportConfig(latency_runs=5),
    )
    assert report.checker_ok and report.exporter == "dynamo"
    assert report.max_abs_diff < 1e-4 and report.top1_agreement == 1.0
    assert (
        report.latency_shape == (4, 3, 16, 16)
        and report.latency_ms_p95 >= report.latency_ms_p50 > 0
    )
    assert report.size_bytes == (tmp_path / "model.onnx").stat().st_size
    dims = onnx.load(report.path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, 16, 16]
    x = torch.randn(7, 3, 16, 16)
    with torch.no_grad():
        ref = module.eval()(x).numpy()
    assert np.abs(ort_logits(report.path, {"input": x}) - ref).max() < 1e-4
    assert leftovers(tmp_path) == []


# -- exporter choice and fallback --------------------------------------------------------
class DynamoCannotTrace(TinyGPT):
    """Stands in for a model torch.export cannot capture but tracing can."""

    def forward(self, input_ids, attention_mask):
        if torch.compiler.is_exporting():
            raise NotImplementedError("this block cannot be captured by torch.export")
        return super().forward(input_ids, attention_mask)


def test_falls_back_to_torchscript_and_logs_it(tmp_path):
    torch.manual_seed(0)
    module, logs = DynamoCannotTrace(), []
    report = export_and_check(
        module,
        TEXT_INPUTS,
        text_batch(2, 8),
        [text_batch(2, 8, seed=1)],
        text_batch(1, 8),
        tmp_path / "model.onnx",
        ExportConfig(latency_runs=3),
        log=logs.append,
    )
    assert report.exporter == "torchscript"
    assert any(
        "dynamo exporter failed" in m and "trying the torchscript exporter" in m for m in logs
    )
    assert report.max_abs_diff < 1e-4 and report.top1_agreement == 1.0
    ids, mask = text_batch(3, 11)
    with torch.no_grad():
        ref = module.eval()(ids, mask).numpy()
    got = ort_logits(report.path, {"input_ids": ids, "attention_mask": mask})
    assert got.shape == (3, 11, VOCAB) and np.abs(got - ref).max() < 1e-4


def test_opset_below_18_uses_torchscript_and_keeps_the_opset(tmp_path):
    report = export_and_check(
        gpt(),
        TEXT_INPUTS,
        text_batch(2, 8),
        [text_batch(2, 8, seed=1)],
        text_batch(1, 8),
        tmp_path / "model.onnx",
        ExportConfig(opset=17, latency_runs=3),
    )
    assert report.exporter == "torchscript" and report.opset == 17
    assert report.checker_ok and report.max_abs_diff < 1e-4


def test_check_off_skips_checker_and_parity_but_times(tmp_path):
    report = export_and_check(
        gpt(),
        TEXT_INPUTS,
        text_batch(2, 8),
        [text_batch(2, 8, seed=1)],
        text_batch(1, 8),
        tmp_path / "model.onnx",
        ExportConfig(opset=17, check=False, latency_runs=3),
    )
    assert not report.checker_ok and report.checker_message.startswith("not run")
    assert report.max_abs_diff is None and report.top1_agreement is None
    assert report.latency_ms_p50 > 0 and report.latency_shape == (1, 8)


@pytest.mark.slow
def test_auto_never_keeps_a_graph_that_breaks_at_other_shapes(tmp_path):
    """Llama at opset 23: dynamo fuses RotaryEmbedding, which onnxruntime 1.32 rejects
    for batch > 1; the probe catches that and the TorchScript graph is used instead."""
    torch.manual_seed(0)
    module, logs = tiny_llama().eval(), []
    path = export_onnx(
        module, text_batch(2, 8), TEXT_INPUTS, tmp_path / "model.onnx", opset=23, log=logs.append
    )
    ids, mask = text_batch(3, 11)
    with torch.no_grad():
        ref = module(ids, mask).numpy()
    got = ort_logits(path, {"input_ids": ids, "attention_mask": mask})
    assert np.abs(got - ref).max() < 1e-4
    assert any("verified in onnxruntime at input shape (3, 9)" in m for m in logs)
    opsets = {o.domain: o.version for o in onnx.load(str(path)).opset_import}
    assert opsets[""] == 23


def test_mixed_train_eval_modes_are_restored(tmp_path):
    module = gpt().train()
    module.blocks[0].eval()  # e.g. a frozen part
    export_onnx(module, text_batch(2, 8), TEXT_INPUTS, tmp_path / "m.onnx", exporter="torchscript")
    assert module.training and module.head.training
    assert not module.blocks[0].training and not module.blocks[0].fc1.training


# -- failures ------------------------------------------------------------------------------
class KeywordOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)

    def forward(self, *, input_ids, attention_mask):
        return self.emb(input_ids)


class UsesSvd(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return torch.linalg.svd(self.lin(x)).S


def test_failed_export_is_one_readable_line_and_leaves_the_old_file(ts_gpt, tmp_path):
    _, good = ts_gpt
    target = tmp_path / "model.onnx"
    target.write_bytes(good.read_bytes())
    before = target.read_bytes()

    with pytest.raises(ExportError) as err:
        export_onnx(KeywordOnly(), text_batch(2, 8), TEXT_INPUTS, target)

    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 600
    assert "KeywordOnly" in msg and "dynamo" in msg and "torchscript" in msg
    assert "forward must take positional tensors" in msg
    assert err.value.__cause__ is not None
    assert [name for name, _ in err.value.attempts] == ["dynamo", "torchscript"]
    # the previous model is untouched and no temp files are left behind
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_unsupported_op_is_named_with_a_hint(tmp_path):
    with pytest.raises(ExportError) as err:
        export_onnx(UsesSvd(), (torch.randn(2, 4),), ["input"], tmp_path / "model.onnx")
    msg = str(err.value)
    assert "\n" not in msg
    assert "svd" in msg and "export.opset" in msg
    assert list(tmp_path.iterdir()) == []


# -- files on disk ---------------------------------------------------------------------------
def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10)).eval()


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_external_data_is_counted_and_loadable(tmp_path, exporter):
    module, x = mlp(), torch.randn(2, 64)
    path = export_onnx(
        module, (x,), ["input"], tmp_path / "model.onnx", exporter=exporter, external_data=True
    )
    data = tmp_path / "model.onnx.data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert data.stat().st_size >= 4 * (64 * 256 + 256 * 10)  # the weights live there
    assert onnx_size_bytes(path) == path.stat().st_size + data.stat().st_size
    assert check_model(path) == (True, "")
    bigger = torch.randn(5, 64)
    with torch.no_grad():
        ref = module(bigger).numpy()
    assert np.abs(ort_logits(path, {"input": bigger}) - ref).max() < 1e-4

    # exporting a single file to the same path removes the now stale data file
    export_onnx(module, (x,), ["input"], path, exporter="torchscript")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert onnx_size_bytes(path) == path.stat().st_size


def test_checker_reports_a_broken_model_in_one_line(tmp_path):
    node = helper.make_node("Add", ["x", "missing"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    bad = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph), str(bad))
    ok, msg = check_model(bad)
    assert not ok and "missing" in msg and "\n" not in msg

    half = tmp_path / "half.onnx"
    half.write_bytes(bad.read_bytes()[:20])
    assert check_model(half)[0] is False


def test_parity_detects_a_different_model(ts_gpt):
    module, path = ts_gpt
    batches = [text_batch(2, 8, seed=s) for s in range(2)]
    same_diff, same_top1 = compare_with_torch(path, module, batches, TEXT_INPUTS)
    other_diff, other_top1 = compare_with_torch(path, gpt(seed=1), batches, TEXT_INPUTS)
    assert same_diff < 1e-4 and same_top1 == 1.0
    assert other_diff > 0.1 and other_top1 < 0.5


def test_latency_takes_numpy_feeds_and_threads(ts_gpt):
    _, path = ts_gpt
    ids, mask = text_batch(2, 16)
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    p50, p95 = measure_latency(path, feeds, TEXT_INPUTS, warmup=1, runs=5, threads=1)
    assert 0 < p50 <= p95
    with pytest.raises(ValueError):
        measure_latency(path, feeds, TEXT_INPUTS, runs=0)
