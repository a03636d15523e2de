"""Models with their own layer names: the refusal lists the layers found (folded by pattern),
and structured_prune's ffn_modules / attention_modules / head_count_attr make them prunable."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from engine.config_fields import validate_config
from engine.methods.base import MethodContext
from engine.methods.prune.structured import (
    StructuredPruneConfig,
    apply_structured,
    check_structured,
)

VOCAB, WIDTH = 40, 32


class Attn(nn.Module):
    """Separate projections (wq/wk/wv/wo) and a head count in `nh`, or fused to_qkv/to_out."""

    def __init__(self, fused: bool):
        super().__init__()
        self.fused, self.heads, self.nh = fused, 4, 4
        if fused:
            self.to_qkv, self.to_out = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)
        else:
            self.wq, self.wk, self.wv = (nn.Linear(WIDTH, WIDTH) for _ in range(3))
            self.wo = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        if self.fused:
            q, k, v = self.to_qkv(x).split(self.to_qkv.out_features // 3, dim=-1)
        else:
            q, k, v = self.wq(x), self.wk(x), self.wv(x)
        q, k, v = (t.view(b, s, -1, 8).transpose(1, 2) for t in (q, k, v))  # head size 8
        y = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, dim=-1) @ v
        y = y.transpose(1, 2).reshape(b, s, -1)
        return (self.to_out if self.fused else self.wo)(y)


class Block(nn.Module):
    def __init__(self, fused: bool):
        super().__init__()
        self.mix = Attn(fused)
        self.ff = nn.ModuleDict({"w_in": nn.Linear(WIDTH, 64), "w_out": nn.Linear(64, WIDTH)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mix(x)
        return x + self.ff["w_out"](torch.relu(self.ff["w_in"](x)))


class Net(nn.Module):
    def __init__(self, fused: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(VOCAB, WIDTH)
        self.layers = nn.ModuleList(Block(fused) for _ in range(3))
        self.head = nn.Linear(WIDTH, VOCAB)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.emb(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


IDS = torch.randint(0, VOCAB, (2, 7), generator=torch.Generator().manual_seed(0))


def test_unknown_layout_is_refused_with_the_layer_names_found():
    ffn, = check_structured(StructuredPruneConfig(), Net())
    assert "no FFN/MLP block found" in ffn and "ffn_modules: [up, down]" in ffn
    assert "layers.{0-2}.ff.w_in, layers.{0-2}.ff.w_out" in ffn and "head" in ffn
    heads, = check_structured(StructuredPruneConfig(target="heads"), Net())
    assert "attention_modules: [q, k, v, out] or [qkv, out]" in heads
    assert "layers.{0-2}.mix.wq, layers.{0-2}.mix.wk" in heads


def test_user_named_ffn_modules_make_a_custom_model_prunable():
    net = Net().eval()
    with torch.no_grad():  # neurons 0..31 of every block do nothing: they must be the ones cut
        for blk in net.layers:
            blk.ff["w_in"].weight[:32] = 0.0
            blk.ff["w_in"].bias[:32] = 0.0
            blk.ff["w_out"].weight[:, :32] = 0.0
    dense = copy.deepcopy(net)
    cfg = StructuredPruneConfig(amount=0.5, importance="l1", ffn_modules=("ff.w_in", "ff.w_out"))
    assert check_structured(cfg, net) == []
    res = apply_structured(cfg, MethodContext(net, "generic", example_inputs=(IDS,)))
    assert [blk.ff["w_in"].out_features for blk in net.layers] == [32] * 3
    assert res.summary["units_removed"] == 96
    with torch.no_grad():
        torch.testing.assert_close(net(IDS), dense(IDS))


@pytest.mark.parametrize("fused", [False, True])
def test_user_named_attention_modules_lose_whole_heads(fused):
    net = Net(fused).eval()
    names = ("to_qkv", "to_out") if fused else ("wq", "wk", "wv", "wo")
    attr = "heads" if fused else "nh"
    cfg = StructuredPruneConfig(target="heads", amount=0.5, importance="l1",
                                attention_modules=names, head_count_attr=attr)  # fmt: skip
    assert check_structured(cfg, net) == []
    apply_structured(cfg, MethodContext(net, "generic", example_inputs=(IDS,)))
    for blk in net.layers:
        assert getattr(blk.mix, attr) == 2  # the head count follows the cut
        out = blk.mix.to_out if fused else blk.mix.wo
        assert out.in_features == 16
        if fused:
            assert blk.mix.to_qkv.out_features == 48
    assert net(IDS).shape == (2, 7, VOCAB)


def test_layout_fields_are_checked_and_shown_as_advanced():
    import dataclasses

    errs = validate_config(StructuredPruneConfig(ffn_modules=("w_in",)), "methods[0]")
    assert any("ffn_modules" in str(e) and "at least two names" in str(e) for e in errs)
    errs = validate_config(StructuredPruneConfig(attention_modules=("q", "k", "v")), "methods[0]")
    assert any("attention_modules" in str(e) and "[q, k, v, out]" in str(e) for e in errs)
    fields = {f.name: f for f in dataclasses.fields(StructuredPruneConfig)}
    for name in ("ffn_modules", "attention_modules", "head_count_attr"):
        assert fields[name].metadata["advanced"] is True
