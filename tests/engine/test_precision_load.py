"""Half-precision weights load as float32 (or stay, with model.dtype: keep) and export to ONNX."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from engine.export.errors import ExportError
from engine.export.onnx_export import export_onnx
from engine.export_variant import export_loaded
from engine.models import load_model
from engine.recipe import ExportConfig, ModelSpec
from tests.engine.test_models_hf import make_bert

QUICK = ExportConfig(parity_batches=1, latency_runs=3, latency_seq=8)


class HalfNet(nn.Module):
    """A module with a half-precision buffer, as users save them after model.half()."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scale


def bf16_bert(tmp_path):
    """A tiny BERT classifier folder saved in bfloat16 (config.json says dtype bfloat16)."""
    folder = make_bert(tmp_path / "bert32")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    model.to(torch.bfloat16).save_pretrained(str(tmp_path / "bf16"))
    AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(tmp_path / "bf16"))
    return tmp_path / "bf16"


def dtypes(module: nn.Module) -> set[torch.dtype]:
    return {t.dtype for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()}


def test_bf16_hf_folder_loads_as_float32_and_exports(tmp_path):
    folder = bf16_bert(tmp_path)
    assert '"dtype": "bfloat16"' in (folder / "config.json").read_text()
    loaded = load_model(ModelSpec(source="hf", path=str(folder)))
    assert dtypes(loaded.module) == {torch.float32}
    assert "stored as bfloat16, loaded as float32" in loaded.description
    assert loaded.extra["stored_dtype"] == "bfloat16"
    report = export_loaded(loaded, None, tmp_path / "m.onnx", QUICK)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-3


def test_keep_leaves_bf16(tmp_path):
    loaded = load_model(ModelSpec(source="hf", path=str(bf16_bert(tmp_path)), dtype="keep"))
    assert dtypes(loaded.module) == {torch.bfloat16}
    assert "kept as bfloat16 (model.dtype: keep)" in loaded.description


def test_fp16_torch_module_loads_as_float32_and_exports(tmp_path):
    path = tmp_path / "half.pt"
    torch.save(HalfNet().half(), path)
    spec = ModelSpec(source="torch", path=str(path), trust=True, input_shape=(1, 8))
    loaded = load_model(spec)
    assert dtypes(loaded.module) == {torch.float32}  # the buffer too
    assert "stored as float16, loaded as float32" in loaded.description
    report = export_loaded(loaded, None, tmp_path / "m.onnx", QUICK)
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-3


def test_fp16_safetensors_into_an_architecture_is_float32(tmp_path):
    built = load_model(ModelSpec(path="tiny-gpt"))
    path = tmp_path / "w.safetensors"
    save_file({k: v.half().contiguous() for k, v in built.module.state_dict().items()}, str(path))
    loaded = load_model(ModelSpec(source="safetensors", path=str(path), architecture="tiny-gpt"))
    assert dtypes(loaded.module) == {torch.float32}
    assert "stored as float16, loaded as float32" in loaded.description  # read from its header


def test_float32_models_are_untouched():
    loaded = load_model(ModelSpec(path="tiny-gpt"))
    assert "stored as" not in loaded.description and "stored_dtype" not in loaded.extra


def test_export_of_a_half_precision_model_names_the_dtype_in_one_line(tmp_path):
    # onnxruntime has no bfloat16 Gemm on CPU: the exporters fail on an op, not on the dtype
    module = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8)).to(torch.bfloat16).eval()
    with pytest.raises(ExportError) as info:
        export_onnx(module, (torch.randn(2, 8).bfloat16(),), ["input"], tmp_path / "m.onnx")
    message = str(info.value)
    assert "\n" not in message
    assert "export failed on a bfloat16 tensor: load with model.dtype: float32" in message
    assert "raise or lower export.opset" not in message


def test_dtype_words_in_an_exporter_error_name_the_dtype():
    from engine.export.errors import failure_message

    clash = RuntimeError("expected scalar type Float but found BFloat16")
    message = failure_message("Net", [("dynamo", clash)], 18)
    assert "export failed on a bfloat16 tensor" in message and "opset" not in message
