"""GPT-2 layouts (transformers Conv1D, weight [in, out]): structured pruning cuts the MLP's
c_fc/c_proj and whole heads of the fused c_attn, and the result runs, exports to ONNX with
onnxruntime parity, and reloads from its checkpoint."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.export import export_and_check
from engine.methods.base import MethodContext
from engine.methods.prune.structured import StructuredPruneConfig, apply_structured
from engine.models import save_model
from engine.models.checkpoint import load_checkpoint
from engine.models.hf import wrap_hf
from engine.models.types import TEXT_INPUTS, LoadedModel
from engine.recipe import ExportConfig

VOCAB, HIDDEN, HEADS, D = 50, 64, 4, 16  # 4 heads of 16; MLP width 4 x 64 = 256


def gpt2() -> LoadedModel:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=HIDDEN, n_head=HEADS, vocab_size=VOCAB, n_positions=64,
                     bos_token_id=0, eos_token_id=0)  # fmt: skip
    return wrap_hf(GPT2LMHeadModel(cfg), "causal-lm", None, "hf", "gpt2", {})


def blocks(loaded: LoadedModel) -> list:
    return list(loaded.module.model.transformer.h)


def silence(loaded: LoadedModel, neurons: list[int], head: int) -> None:
    """Make these MLP neurons and this head contribute nothing (and score lowest by norm)."""
    with torch.no_grad():
        for b in blocks(loaded):
            b.mlp.c_fc.weight[:, neurons] = 0.0  # Conv1D weight is [in, out]
            b.mlp.c_fc.bias[neurons] = 0.0
            b.mlp.c_proj.weight[neurons, :] = 0.0
            for part in range(3):  # q, k and v slices of the fused projection
                cols = slice(part * HIDDEN + head * D, part * HIDDEN + (head + 1) * D)
                b.attn.c_attn.weight[:, cols] = 0.0
                b.attn.c_attn.bias[cols] = 0.0
            b.attn.c_proj.weight[head * D : (head + 1) * D, :] = 0.0


def ids_mask(batch: int, seq: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[0, seq // 2 :] = 0
    return ids, mask


@pytest.fixture(scope="module")
def pruned():
    """(GPT-2 after 50% FFN then 25% heads, its dense copy, the two results, the log)."""
    torch.set_num_threads(1)
    loaded = gpt2()
    silence(loaded, list(range(0, 256, 2)), head=2)
    dense = copy.deepcopy(loaded.module).eval()
    logs: list[str] = []
    ctx = MethodContext(loaded.module, loaded.task, log=logs.append)
    ffn = apply_structured(StructuredPruneConfig(target="ffn", amount=0.5, importance="l1"), ctx)
    heads = apply_structured(StructuredPruneConfig(target="heads", amount=0.25, importance="l1"),
                             ctx)  # fmt: skip
    return loaded, dense, ffn, heads, logs


def test_mlp_and_fused_heads_shrink_and_exactly_the_silenced_units_go(pruned):
    loaded, dense, ffn, heads, logs = pruned
    for b in blocks(loaded):
        assert tuple(b.mlp.c_fc.weight.shape) == (HIDDEN, 128) and b.mlp.c_fc.nf == 128
        assert tuple(b.mlp.c_proj.weight.shape) == (128, HIDDEN) and b.mlp.c_proj.nx == 128
        assert tuple(b.attn.c_attn.weight.shape) == (HIDDEN, 3 * 3 * D) and b.attn.c_attn.nf == 144
        assert tuple(b.attn.c_proj.weight.shape) == (3 * D, HIDDEN)
        assert b.attn.num_heads == 3 and b.attn.split_size == 3 * D
    assert ffn.summary["units_removed"] == 256 and heads.summary["units_removed"] == 2
    assert loaded.module.model.config.n_inner == 128  # config.json describes the new width
    assert any("c_fc" in t for t in ffn.targets) and any("c_attn" in t for t in heads.targets)
    assert any("removed 2 of 8 attention heads" in line for line in logs)
    # the silenced neurons and head contributed nothing: removing them (and only them)
    # leaves the logits as they were; any wrong slice (e.g. q kept, v cut) would change them
    for batch, seq in ((1, 5), (2, 9)):
        args = ids_mask(batch, seq)
        with torch.no_grad():
            torch.testing.assert_close(loaded.module(*args), dense(*args), atol=1e-5, rtol=1e-4)


def test_pruned_gpt2_fine_tunes(pruned):
    loaded = copy.deepcopy(pruned[0])
    loaded.module.train()
    ids, mask = ids_mask(2, 8)
    opt = torch.optim.SGD(loaded.module.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        logits = loaded.module(ids, mask)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB),
                                                 ids[:, 1:].reshape(-1))  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_pruned_gpt2_exports_to_onnx_with_parity(pruned, tmp_path):
    loaded = pruned[0]
    report = export_and_check(loaded.module, TEXT_INPUTS, ids_mask(2, 8), [ids_mask(2, 9, 1)],
                              ids_mask(1, 12), tmp_path / "m.onnx",
                              ExportConfig(opset=18, parity_batches=1, latency_runs=2))  # fmt: skip
    assert report.checker_ok and report.max_abs_diff < 1e-4


def test_pruned_gpt2_checkpoint_reloads_identically(pruned, tmp_path):
    loaded = pruned[0]
    folder = save_model(loaded, tmp_path / "ckpt")
    assert '"n_inner": 128' in (folder / "config.json").read_text()
    back = load_checkpoint(folder)
    attn = back.module.model.transformer.h[0].attn
    assert attn.num_heads == 3 and attn.split_size == 3 * D
    for batch, seq in ((1, 6), (2, 11)):
        args = ids_mask(batch, seq)
        with torch.no_grad():
            assert torch.equal(back.module(*args), loaded.module(*args))


def test_global_scope_and_taylor_work_on_conv1d():
    loaded = gpt2()
    ids, mask = ids_mask(2, 8)
    logits = loaded.module(ids, mask)  # gradients for Taylor, as calibration would leave them
    torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), ids.reshape(-1)).backward()
    from engine.methods.prune.structured_local import local_unit_scores
    from engine.methods.prune.structured_targets import attention_sites, ffn_sites

    for site in ffn_sites(loaded.module) + attention_sites(loaded.module):
        scores = local_unit_scores(site, "taylor")
        assert scores.shape == (site.units,) and bool((scores > 0).all())
    loaded.module.zero_grad(set_to_none=True)
    res = apply_structured(StructuredPruneConfig(amount=0.5, scope="global", importance="l2"),
                           MethodContext(loaded.module, loaded.task))  # fmt: skip
    assert res.summary["units_removed"] == 256
    assert sum(b.mlp.c_fc.nf for b in blocks(loaded)) == 256


def test_gpt_neox_interleaved_query_key_value_loses_whole_heads(tmp_path):
    """Pythia/GPT-NeoX fuse each head's q, k, v side by side ([heads, 3, head_size])."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(0)
    cfg = GPTNeoXConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, vocab_size=VOCAB, max_position_embeddings=64)  # fmt: skip
    loaded = wrap_hf(GPTNeoXForCausalLM(cfg), "causal-lm", None, "hf", "neox", {})
    layers = loaded.module.model.gpt_neox.layers
    with torch.no_grad():  # head 1 does nothing (and has the smallest norm): it must be cut
        for layer in layers:
            a, d = layer.attention, layer.attention.head_size
            a.query_key_value.weight[3 * d : 6 * d] = 0.0
            a.query_key_value.bias[3 * d : 6 * d] = 0.0
            a.dense.weight[:, d : 2 * d] = 0.0
    dense = copy.deepcopy(loaded.module).eval()
    res = apply_structured(StructuredPruneConfig(target="heads", amount=0.25, importance="l1"),
                           MethodContext(loaded.module, loaded.task))  # fmt: skip
    assert res.summary["units_removed"] == 2
    assert [tuple(x.attention.query_key_value.weight.shape) for x in layers] == [(72, 32)] * 2
    args = ids_mask(2, 9)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(*args), dense(*args), atol=1e-5, rtol=1e-4)
        back = load_checkpoint(save_model(loaded, tmp_path / "ckpt"))
        assert torch.equal(back.module(*args), loaded.module(*args))
