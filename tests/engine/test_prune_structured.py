"""Structured pruning: tensors shrink, exactly the chosen units go, and the result still
runs in PyTorch, exports to ONNX, and round-trips through a checkpoint."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from engine.config_fields import validate_config
from engine.data import load_data
from engine.export import export_and_check
from engine.job import Job
from engine.methods.base import MethodContext
from engine.methods.prune.masks import set_mask
from engine.methods.prune.structured import (
    StructuredPruneConfig,
    apply_structured,
    check_structured,
    preview_structured,
)
from engine.models import load_model, save_model
from engine.models.checkpoint import load_checkpoint
from engine.models.hf import wrap_hf
from engine.models.types import TEXT_INPUTS, LoadedModel
from engine.recipe import DataSpec, ExportConfig, ModelSpec, TrainConfig
from engine.registry import method_entry
from tests.engine.conftest import tiny_recipe

VOCAB = 50


def hf_bert() -> LoadedModel:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                     intermediate_size=64, vocab_size=VOCAB, max_position_embeddings=64,
                     num_labels=3)  # fmt: skip
    return wrap_hf(BertForSequenceClassification(cfg), "classification", None, "hf", "bert", {})


def llama() -> LoadedModel:
    """Grouped-query attention: 4 query heads share 2 key/value heads."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                      max_position_embeddings=64)  # fmt: skip
    return wrap_hf(LlamaForCausalLM(cfg), "causal-lm", None, "hf", "llama", {})


def builtin(name: str) -> LoadedModel:
    return load_model(ModelSpec(source="builtin", path=name))


BUILD = {
    "tiny-gpt": lambda: builtin("tiny-gpt"),
    "tiny-bert": lambda: builtin("tiny-bert"),
    "hf-bert": hf_bert,
    "llama": llama,
}
# per model: (FFN down projection, attention output projection) of layer i, and head_dim
LAYOUT = {
    "tiny-gpt": ("blocks.{}.mlp.proj", "blocks.{}.attn.proj", 32),
    "tiny-bert": ("blocks.{}.mlp.proj", "blocks.{}.attn.proj", 32),
    "hf-bert": ("model.bert.encoder.layer.{}.output.dense",
                "model.bert.encoder.layer.{}.attention.output.dense", 8),
    "llama": ("model.model.layers.{}.mlp.down_proj", "model.model.layers.{}.self_attn.o_proj", 8),
}  # fmt: skip
MODELS = list(BUILD)


def ids_mask(loaded: LoadedModel, batch: int, seq: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, loaded.vocab_size, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[0, max(1, seq // 2) :] = 0  # padding exercised
    return ids, mask


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; on a busy shared CPU, two threads spin-wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pruned():
    """name -> (loaded after 50% FFN then 50% heads, dense copy, ffn result, heads result, logs)."""
    done: dict[str, tuple] = {}

    def get(name: str) -> tuple:
        if name not in done:
            loaded = BUILD[name]()
            dense = copy.deepcopy(loaded.module).eval()
            logs: list[str] = []
            ctx = MethodContext(loaded.module, loaded.task, log=logs.append)
            ffn = apply_structured(StructuredPruneConfig(target="ffn", amount=0.5), ctx)
            heads = apply_structured(StructuredPruneConfig(target="heads", amount=0.5), ctx)
            done[name] = (loaded, dense, ffn, heads, logs)
        return done[name]

    return get


def removed_columns(dense: nn.Linear, pruned: nn.Linear) -> list[int]:
    """Input columns of `dense` that `pruned` no longer has (matched by exact values)."""
    kept = {tuple(c.tolist()) for c in pruned.weight.detach().T}
    return [i for i, c in enumerate(dense.weight.detach().T) if tuple(c.tolist()) not in kept]


@pytest.mark.parametrize("name", MODELS)
def test_pruned_model_equals_dense_model_with_those_units_silenced(name, pruned):
    """Exactly the chosen neurons/heads go (whole heads, whole KV groups) and nothing else."""
    loaded, dense, ffn, heads, _ = pruned(name)
    down, out, hd = LAYOUT[name]
    mods, dense_mods = dict(loaded.module.named_modules()), dict(dense.named_modules())
    n_layers = 4 if name == "tiny-gpt" else 2
    with torch.no_grad():
        for i in range(n_layers):
            d_down, d_out = dense_mods[down.format(i)], dense_mods[out.format(i)]
            cols = removed_columns(d_down, mods[down.format(i)])
            assert len(cols) == d_down.in_features // 2  # half the neurons of every block
            d_down.weight[:, cols] = 0.0
            cols = removed_columns(d_out, mods[out.format(i)])
            removed_heads = sorted({c // hd for c in cols})
            assert len(cols) == len(removed_heads) * hd == d_out.in_features // 2  # whole heads
            if name == "llama":  # q heads 2g, 2g+1 share kv head g: they go as a pair
                assert removed_heads in ([0, 1], [2, 3])
            d_out.weight[:, cols] = 0.0
    for batch, seq in ((1, 5), (3, 17)):
        args = ids_mask(loaded, batch, seq)
        with torch.no_grad():
            got, want = loaded.module(*args), dense(*args)
        assert got.shape == want.shape
        assert (got - want).abs().max().item() < 1e-5
    entry = method_entry("structured_prune")  # the registry says the step cuts tensors
    assert entry.effect == "smaller" and ffn.targets and heads.targets
    assert ffn.summary["params_before"] == params(dense)
    assert heads.summary["params_after"] == params(loaded.module) < ffn.summary["params_after"]


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_bookkeeping_follow_the_cut(name, pruned):
    loaded, dense, ffn, heads, logs = pruned(name)
    m = loaded.module
    # each submodule keeps its own mode (wrap_hf holds the inner HF model in eval mode)
    assert [x.training for x in m.modules()] == [x.training for x in BUILD[name]().module.modules()]
    for layer in m.modules():  # size attributes agree with the tensors everywhere
        if isinstance(layer, nn.Linear):
            assert tuple(layer.weight.shape) == (layer.out_features, layer.in_features)
    if name in ("tiny-gpt", "tiny-bert"):
        for block in m.blocks:
            assert block.mlp.fc.weight.shape == (256, 128) and block.mlp.proj.in_features == 256
            assert block.attn.n_head == 2 and block.attn.qkv.out_features == 3 * 2 * 32
    elif name == "hf-bert":
        for layer in m.model.bert.encoder.layer:
            assert layer.intermediate.dense.out_features == 32
            s = layer.attention.self
            assert (s.num_attention_heads, s.all_head_size, s.query.out_features) == (2, 16, 16)
    else:
        cfg = m.model.config
        assert (cfg.intermediate_size, cfg.num_attention_heads, cfg.num_key_value_heads) == (
            32,
            2,
            1,
        )
        for layer in m.model.model.layers:
            a = layer.self_attn
            assert layer.mlp.gate_proj.out_features == layer.mlp.up_proj.out_features == 32
            assert (a.q_proj.out_features, a.k_proj.out_features, a.v_proj.out_features) == (
                16,
                8,
                8,
            )
            assert a.num_key_value_groups == 2
    assert ffn.summary["units_removed"] * 2 == ffn.summary["units_total"]
    assert heads.summary["units_removed"] * 2 == heads.summary["units_total"]
    assert all(0 < f < 1 for f in {**ffn.layer_sparsity, **heads.layer_sparsity}.values())
    assert logs[0].startswith("structured (l1, layer): removed ") and "FFN neurons" in logs[0]
    if name == "llama":
        assert any("removed 4 of 8 attention heads (whole key/value groups)" in s for s in logs)


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_matches_pytorch_and_holds_the_smaller_tensors(name, pruned, tmp_path):
    loaded, dense, *_ = pruned(name)
    parity = [ids_mask(loaded, 2, 9, seed=s) for s in (1, 2)]
    report = export_and_check(loaded.module, TEXT_INPUTS, ids_mask(loaded, 2, 8), parity,
                              ids_mask(loaded, 1, 12), tmp_path / "m.onnx",
                              ExportConfig(opset=18, parity_batches=2, latency_runs=2))  # fmt: skip
    assert report.checker_ok and report.max_abs_diff < 1e-4
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    floats = sum(
        int(np.prod(t.dims)) for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT
    )
    # the file holds the smaller tensors (constant folding may drop a few more values)
    assert floats <= 1.02 * params(loaded.module) < params(dense)


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_gives_identical_outputs(name, pruned, tmp_path):
    loaded, *_ = pruned(name)
    back = load_checkpoint(save_model(loaded, tmp_path / "ckpt"))
    for batch, seq in ((1, 6), (2, 11)):
        args = ids_mask(loaded, batch, seq)
        with torch.no_grad():
            assert torch.equal(back.module(*args), loaded.module(*args))
    assert params(back.module) == params(loaded.module)


def test_preview_counts_exactly_what_pruning_removes():
    loaded = llama()
    for target in ("ffn", "heads"):
        cfg = StructuredPruneConfig(target=target, amount=0.5)
        before = params(loaded.module)
        p = preview_structured(cfg, loaded.module)
        assert params(loaded.module) == before  # the preview leaves the model alone
        apply_structured(cfg, MethodContext(loaded.module, loaded.task))
        assert p["removed"] == before - params(loaded.module) and p["removed"] * 2 == p["targeted"]
    assert p["layers"] == 8  # q, k, v, o in both layers
    assert method_entry("structured_prune").preview is preview_structured


def test_round_to_and_global_scope():
    loaded = builtin("tiny-gpt")  # 4 blocks of 512 neurons
    cfg = StructuredPruneConfig(amount=0.3, round_to=64)
    res = apply_structured(cfg, MethodContext(loaded.module, loaded.task))
    assert [b.mlp.fc.out_features for b in loaded.module.blocks] == [384] * 4  # 358.4 -> 384
    assert res.summary["units_removed"] == 4 * 128
    loaded = builtin("tiny-gpt")
    with torch.no_grad():  # make block 3 clearly the least important
        loaded.module.blocks[3].mlp.fc.weight.mul_(0.01)
        loaded.module.blocks[3].mlp.proj.weight.mul_(0.01)
    res = apply_structured(StructuredPruneConfig(amount=0.4, scope="global", importance="l2"),
                           MethodContext(loaded.module, loaded.task))  # fmt: skip
    widths = [b.mlp.fc.out_features for b in loaded.module.blocks]
    assert sum(widths) == 4 * 512 - round(0.4 * 4 * 512) and res.summary["units_removed"] == 819
    assert widths[3] == 1 and min(widths[:3]) > 300  # the weak block goes down to one neuron


def test_taylor_ranks_by_gradient_and_needs_data():
    loaded = builtin("tiny-gpt")
    data = load_data(DataSpec(source="builtin", path="shakespeare", max_length=32, max_samples=64),
                     loaded)  # fmt: skip
    fc, proj = loaded.module.blocks[0].mlp.fc, loaded.module.blocks[0].mlp.proj
    with torch.no_grad():  # neuron 7: huge weights, but nothing reads it (zero output column)
        fc.weight[7] *= 50.0
        proj.weight[:, 7] = 0.0
    big_row = fc.weight[7].detach().clone()

    def kept_after(importance: str) -> bool:
        m = copy.deepcopy(loaded)
        ctx = MethodContext(m.module, m.task, data=data, batch_size=8)
        apply_structured(StructuredPruneConfig(amount=0.5, importance=importance), ctx)
        rows = m.module.blocks[0].mlp.fc.weight.detach()
        assert rows.shape[0] == 256 and all(p.grad is None for p in m.module.parameters())
        return bool((rows == big_row).all(dim=1).any())

    assert kept_after("l1")  # by norm it is the strongest neuron
    assert not kept_after("taylor")  # its loss gradient is zero: Taylor sees it does nothing
    before = params(loaded.module)
    with pytest.raises(ValueError, match="importance taylor needs data"):
        apply_structured(StructuredPruneConfig(importance="taylor"),
                         MethodContext(loaded.module, loaded.task))  # fmt: skip
    assert params(loaded.module) == before


class ConvNet(nn.Module):
    """A residual conv net: the residual couples stem and block channels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32))
        self.classifier = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.down(x + self.block(x))
        return self.classifier(x.mean((2, 3)))


def test_conv_channels_shrink_coupled_through_the_residual(tmp_path):
    net = ConvNet().eval()
    cfg = StructuredPruneConfig(target="channels", amount=0.5)
    p = preview_structured(cfg, net)
    before = params(net)
    res = apply_structured(cfg, MethodContext(net, "generic"))
    assert [net.stem[0].out_channels, net.block[0].in_channels, net.block[0].out_channels] == [
        8
    ] * 3
    assert (net.stem[1].num_features, net.down[0].out_channels, net.classifier.in_features) == (
        8,
        16,
        16,
    )
    assert (
        p["removed"]
        == before - params(net)
        == res.summary["params_before"] - res.summary["params_after"]
    )
    assert net.classifier.out_features == 10 and net(torch.randn(2, 3, 20, 20)).shape == (2, 10)
    x = torch.randn(2, 3, 16, 16)
    report = export_and_check(net, ("input",), (x,), [(x,)], (x,), tmp_path / "c.onnx",
                              ExportConfig(opset=18, parity_batches=1, latency_runs=2))  # fmt: skip
    assert report.max_abs_diff < 1e-4


def test_bad_configs_say_what_is_wrong_before_anything_runs():
    gpt = builtin("tiny-gpt").module
    before = params(gpt)

    def problems(**kw) -> list[str]:
        return check_structured(StructuredPruneConfig(**kw), gpt)

    assert problems() == [] and problems(target="heads") == []
    assert (
        "lm_head cannot be structurally pruned with target ffn" in problems(include=("lm_head",))[0]
    )
    msg = problems(include=("*.mlp_*",))[0]
    assert "matches no layer; FFN blocks look like: blocks.0.mlp (blocks.0.mlp.fc" in msg
    msg = problems(target="heads", include=("*.mlp*",))[0]
    assert "blocks.0.mlp cannot be structurally pruned with target heads" in msg
    assert "match no FFN block" in problems(exclude=("blocks.*",))[0]
    msg = problems(target="heads", amount=0.9)[0]  # 0.9 * 4 heads rounds to all 4
    assert msg == ("amount 0.9 would remove all 4 heads of blocks.0.attn; use amount below 0.875 "
                   "so at least one stays")  # fmt: skip
    assert "round_to 1024 is more than the 512 neurons" in problems(round_to=1024)[0]
    assert (
        "no attention heads found"
        in check_structured(StructuredPruneConfig(target="heads"), ConvNet())[0]
    )
    assert "target channels is for convolutional models" in problems(target="channels")[0]
    gqa = check_structured(StructuredPruneConfig(target="heads", amount=0.75), llama().module)
    assert (
        "would remove all 2 key/value groups (4 heads) of model.model.layers.0.self_attn" in gqa[0]
    )
    bad = validate_config(StructuredPruneConfig(amount=1.0), "methods[0]")
    assert [str(e) for e in bad] == ["Step 1 · methods[0].amount: must be in [0, 1), got 1"]
    with pytest.raises(ValueError, match="lm_head cannot be structurally pruned"):
        apply_structured(
            StructuredPruneConfig(include=("lm_head",)), MethodContext(gpt, "causal-lm")
        )
    set_mask(gpt.blocks[1].mlp.fc, torch.ones_like(gpt.blocks[1].mlp.fc.weight))
    with pytest.raises(ValueError, match="blocks.1.mlp.fc already carries a pruning mask"):
        apply_structured(StructuredPruneConfig(), MethodContext(gpt, "causal-lm"))
    assert params(gpt) == before


def test_global_scope_uneven_sizes_survive_a_checkpoint(tmp_path):
    loaded = llama()
    with torch.no_grad():  # a weak second layer: the global ranking takes more from it
        for n, p in loaded.module.named_parameters():
            if ".layers.1." in n:
                p.mul_(0.3)
    ctx = MethodContext(loaded.module, loaded.task)
    apply_structured(StructuredPruneConfig(target="ffn", amount=0.4, scope="global"), ctx)
    apply_structured(StructuredPruneConfig(target="heads", amount=0.25, scope="global"), ctx)
    layers = loaded.module.model.model.layers
    assert [x.mlp.up_proj.out_features for x in layers] == [64, 13]  # 51 of 128 from layer 1
    assert [x.self_attn.k_proj.out_features for x in layers] == [16, 8]  # one KV group goes
    assert loaded.module.model.config.intermediate_size == 64  # uneven: config left as it was
    back = load_checkpoint(save_model(loaded, tmp_path / "ckpt"))
    args = ids_mask(loaded, 2, 9)
    with torch.no_grad():
        assert torch.equal(back.module(*args), loaded.module(*args))


@pytest.mark.parametrize(
    "model, data, blocks",
    [("tiny-bert", "bbc-news", 2), ("tiny-gpt", "shakespeare", 4)],
)
def test_job_prunes_half_the_ffn_and_fine_tunes(model, data, blocks, tmp_path):
    recipe = tiny_recipe(
        model=ModelSpec(source="builtin", path=model),
        data=DataSpec(source="builtin", path=data, max_length=32, max_samples=120),
        methods=(StructuredPruneConfig(target="ffn", amount=0.5),),
        train=TrainConfig(max_steps=4, batch_size=8, eval_every=4),
        export=ExportConfig(enabled=False),
    )
    result = Job(recipe, workspace=tmp_path).run()
    assert result.ok, result.error
    card = result.card["model"]
    # half of each block's 512 neurons, each 128 fc inputs + fc bias + 128 proj outputs
    assert card["params_before"] - card["params"] == blocks * 256 * 257
    assert "structured_prune(target=ffn, amount=0.5" in result.card["method"]
    back = load_checkpoint(tmp_path / "runs" / result.run_id / "checkpoint")
    assert [b.mlp.fc.out_features for b in back.module.blocks] == [256] * blocks
    bad = dataclasses.replace(
        recipe, methods=(StructuredPruneConfig(include=("*lm_head", "classifier")),)
    )
    failed = Job(bad, workspace=tmp_path / "other").run()
    assert not failed.ok and "cannot be structurally pruned" in failed.error
    assert not (tmp_path / "other" / "runs").exists() or not any(
        (tmp_path / "other" / "runs").iterdir()
    )
