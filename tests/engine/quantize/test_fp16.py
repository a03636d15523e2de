"""fp16 on real exported files: valid, half the size, outputs within float16 rounding of
fp32, layers kept in fp32 on request, external data kept, and the CPU truth on the card."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from engine.config_fields import ConfigError, validate_config
from engine.export.runtime import check_model, external_data_files, onnx_size_bytes
from engine.methods.quantize.fp16 import Fp16Config, check_fp16, convert_fp16, describe_fp16
from engine.registry import method_entry
from tests.engine.quantize.tiny_onnx import (
    agreement,
    context,
    export_text,
    logits,
    shakespeare,
    text_batch,
    tiny_gpt,
    tiny_llama,
)

GPT_VOCAB = 258


@pytest.fixture(scope="module")
def gpt(tmp_path_factory):
    """The pretrained tiny-gpt exported once: (fp32 file, held-out ids, fp32 logits)."""
    path = export_text(tiny_gpt(), tmp_path_factory.mktemp("gpt") / "model.onnx", GPT_VOCAB)
    ids = shakespeare().val.input_ids
    return path, ids, logits(path, ids)


def _initializer_types(path) -> dict[str, int]:
    model = onnx.load(str(path), load_external_data=False)
    return {t.name: t.data_type for t in model.graph.initializer}


def test_fp16_file_is_valid_half_size_and_close(gpt, tmp_path):
    src, ids, ref = gpt
    result = convert_fp16(Fp16Config(), context(src, tmp_path))
    assert (result.kind, result.path.name) == ("onnx-fp16", "model.fp16.onnx")
    assert check_model(result.path) == (True, "")
    got = logits(result.path, ids)
    assert got.dtype == np.float32  # keep_io_types: callers see float32 as before
    assert float(np.abs(got - ref).max()) < 0.05  # logits of size ~10: float16 rounding
    top1, _ = agreement(got, ref)
    assert top1 >= 0.99
    ratio = onnx_size_bytes(result.path) / onnx_size_bytes(src)
    assert 0.45 < ratio < 0.56, ratio
    weights = [t for n, t in _initializer_types(result.path).items() if n.endswith("weight")]
    assert weights and set(weights) == {onnx.TensorProto.FLOAT16}


def test_notes_tell_the_cpu_truth(gpt, tmp_path):
    result = convert_fp16(Fp16Config(), context(gpt[0], tmp_path))
    (note,) = result.notes
    assert "halves" in note and "on CPU it usually runs slower" in note
    assert all(where in note for where in ("CUDA", "TensorRT", "DirectML", "NPUs"))
    entry = method_entry("fp16")
    assert (entry.family, entry.stage, entry.effect) == ("quantize", "artifact", "quantized")
    assert "slower" in entry.help and entry.describe(Fp16Config()) == "fp16 (fp32 inputs/outputs)"


def test_fp16_io_types_and_kept_layers(gpt, tmp_path):
    src, ids, _ = gpt
    cfg = Fp16Config(keep_io_types=False, exclude_nodes=("lm_head",),
                     op_block_list=("LayerNormalization",))  # fmt: skip
    result = convert_fp16(cfg, context(src, tmp_path))
    assert check_model(result.path) == (True, "")
    graph = onnx.load(str(result.path)).graph
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    types = {t.name: t.data_type for t in graph.initializer}
    head = next(n for n in graph.node if n.name == "/lm_head/MatMul")
    assert types[head.input[1]] == onnx.TensorProto.FLOAT  # the head kept its fp32 weight
    norms = [n for n in graph.node if n.op_type == "LayerNormalization"]
    assert norms and all(types[n.input[1]] == onnx.TensorProto.FLOAT for n in norms)
    assert logits(result.path, ids).dtype == np.float16
    assert "2 op type(s)/pattern(s) kept fp32" in describe_fp16(cfg)
    assert result.summary["nodes_kept_fp32"] == 1


def test_weight_kept_fp32_with_declared_initializer_types(gpt, tmp_path):
    # the dynamo exporter declares every initializer in value_info; the converter turned the
    # declaration of a weight it kept in fp32 to float16 and the checker refused the file
    model = onnx.load(str(gpt[0]))
    declared = [onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                for t in model.graph.initializer]  # fmt: skip
    model.graph.value_info.extend(declared)
    src = tmp_path / "declared.onnx"
    onnx.save(model, str(src))
    result = convert_fp16(Fp16Config(exclude_nodes=("lm_head",)), context(src, tmp_path / "out"))
    assert check_model(result.path) == (True, "")
    ids = gpt[1][:2]
    assert float(np.abs(logits(result.path, ids) - logits(src, ids)).max()) < 0.05


def test_fp16_llama_keeps_casts_consistent(tmp_path):
    # the RMSNorm upcast (Cast to float) made onnxconverter-common's own converter write a
    # file the checker rejects; the version onnxruntime ships keeps it consistent
    src = export_text(tiny_llama(), tmp_path / "llama.onnx", 256)
    ids = text_batch(2, 16, 256, seed=4)[0]
    result = convert_fp16(Fp16Config(), context(src, tmp_path / "out"))
    assert check_model(result.path) == (True, "")
    assert float(np.abs(logits(result.path, ids) - logits(src, ids)).max()) < 0.01


def test_external_data_is_kept(tmp_path):
    torch.manual_seed(0)
    src = export_text(tiny_gpt(pretrained=False), tmp_path / "ext" / "model.onnx", GPT_VOCAB,
                      external=True)  # fmt: skip
    result = convert_fp16(Fp16Config(), context(src, tmp_path / "out"))
    assert external_data_files(result.path) == [tmp_path / "out" / "model.fp16.onnx.data"]
    assert check_model(result.path) == (True, "")
    ids = text_batch(1, 8, GPT_VOCAB)[0]
    assert float(np.abs(logits(result.path, ids) - logits(src, ids)).max()) < 0.01
    assert sorted(p.name for p in (tmp_path / "ext").iterdir()) == ["model.onnx", "model.onnx.data"]


def test_bad_settings_are_refused(gpt, tmp_path):
    (err,) = validate_config(Fp16Config(max_finite_val=70000.0), "methods[0]")
    assert err.path == "methods[0].max_finite_val" and "65504" in err.message
    (err,) = validate_config(Fp16Config(min_positive_val=1e-9), "methods[0]")
    assert err.path == "methods[0].min_positive_val"
    assert "exclude_nodes" in check_fp16(Fp16Config(exclude_nodes=("lm_hed",)),
                                         tiny_gpt(pretrained=False))[0]  # fmt: skip
    with pytest.raises(ConfigError, match=r"methods\[2\]\.exclude_nodes: '/nope' matches no"):
        convert_fp16(Fp16Config(exclude_nodes=("/nope",)), context(gpt[0], tmp_path, step=3))
    half = convert_fp16(Fp16Config(keep_io_types=False), context(gpt[0], tmp_path)).path
    with pytest.raises(ConfigError, match="no float32 tensors"):
        convert_fp16(Fp16Config(), context(half, tmp_path / "again"))
