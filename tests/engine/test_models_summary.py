"""Model anatomy: parameter, non-zero, byte and FLOP counts per layer."""

from __future__ import annotations

import torch
from torch import nn

from engine.models import load_model, summarize
from engine.recipe import ModelSpec


def test_single_linear_flops_params_and_bytes():
    lin = nn.Linear(64, 32)
    s = summarize(lin, (torch.randn(4, 64),))
    assert s.total_flops == 2 * 4 * 64 * 32
    (row,) = s.layers
    assert (row.name, row.type, row.params, row.flops) == (
        "",
        "Linear",
        64 * 32 + 32,
        2 * 4 * 64 * 32,
    )
    assert row.bytes == (64 * 32 + 32) * 4 and row.share == 1.0
    assert s.total_bytes == row.bytes


def test_nonzero_counts_pruned_weights():
    net = nn.Sequential(nn.Linear(10, 10, bias=False), nn.ReLU(), nn.Linear(10, 2, bias=False))
    with torch.no_grad():
        net[0].weight[:, :4] = 0.0
    s = summarize(net, (torch.randn(1, 10),))
    rows = {r.name: r for r in s.layers}
    assert set(rows) == {"0", "2"}  # ReLU owns no parameters
    assert rows["0"].nonzero == 60 and rows["2"].nonzero == 20
    assert (s.total_params, s.nonzero_params) == (120, 80)
    assert abs(s.sparsity - 40 / 120) < 1e-9
    assert rows["0"].flops == 2 * 10 * 10 and rows["2"].flops == 2 * 10 * 2


def test_tiny_gpt_totals_match_the_module():
    m = load_model(ModelSpec(path="tiny-gpt"))
    s = summarize(m.module, m.example_inputs(1, 16))
    assert s.total_params == sum(p.numel() for p in m.module.parameters())
    assert sum(r.params for r in s.layers) == s.total_params
    assert abs(sum(r.share for r in s.layers) - 1.0) < 1e-9
    rows = {r.name: r for r in s.layers}
    assert rows["blocks.0.attn.qkv"].flops == 2 * 16 * 128 * 384
    assert rows["lm_head"].flops == 2 * 16 * 128 * 258
    assert rows["tok_emb"].type == "Embedding" and rows["ln_f"].type == "LayerNorm"
    assert s.total_flops > sum(r.flops for r in s.layers)  # attention matmuls belong to no row
    d = s.to_dict()
    assert d["total_params"] == s.total_params and len(d["layers"]) == len(s.layers)
    assert d["layers"][0]["name"] == "tok_emb"


def test_tied_weights_count_once():
    emb = nn.Embedding(20, 8)
    head = nn.Linear(8, 20, bias=False)
    head.weight = emb.weight

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.head = emb, head

        def forward(self, ids):
            return self.head(self.emb(ids))

    s = summarize(Tied(), (torch.tensor([[1, 2, 3]]),))
    rows = {r.name: r for r in s.layers}
    assert s.total_params == 160
    assert rows["head"].params == 0 and "tied to emb.weight" in rows["head"].type
    assert rows["head"].flops == 2 * 3 * 8 * 20


def test_torchscript_module_summarizes_without_crashing():
    lin = torch.jit.script(nn.Sequential(nn.Linear(8, 4)))
    s = summarize(lin, (torch.randn(2, 8),))
    assert s.total_params == 36
    assert s.total_flops in (0, 2 * 2 * 8 * 4)  # counted when the dispatcher sees it


def test_summary_does_not_touch_batchnorm_stats_or_train_mode():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    before = net[1].running_mean.clone()
    s = summarize(net, (torch.randn(2, 3, 8, 8) + 5,))
    assert torch.equal(net[1].running_mean, before) and net.training and net[1].training
    rows = {r.name: r for r in s.layers}
    assert rows["0"].flops == 2 * 2 * 4 * 6 * 6 * 3 * 9
    assert rows["1"].bytes == (4 + 4) * 4 + (4 + 4) * 4 + 8  # weight, bias, running stats, count


def test_sdpa_attention_scores_count_on_cpu_as_on_cuda():
    """HF models run SDPA as the CPU flash-attention kernel, which torch's FLOP table lacks:
    the Model page would show their attention scores as 0 FLOPs on CPU."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.models.summary import count_flops

    b, t, width = 2, 16, 32
    cfg = GPT2Config(n_layer=1, n_embd=width, n_head=2, vocab_size=40, n_positions=32,
                     attn_implementation="sdpa")  # fmt: skip
    model = GPT2LMHeadModel(cfg).eval()
    _, per_module = count_flops(model, (torch.randint(0, 40, (b, t)),))
    children = sum(v for k, v in per_module.items() if k.startswith("transformer.h.0.attn."))
    # q k^T and the weights times v, 2 x (2 B T T width), counted in the attention module itself
    assert per_module["transformer.h.0.attn"] - children == 2 * (2 * b * t * t * width)
