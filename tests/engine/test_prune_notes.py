"""What a structured step will do that differs from what was asked, said before the run
(the estimate) and recorded on the card: heads rounded to whole key/value groups under
grouped-query attention, and which importance ranks the units (auto = taylor for a causal LM
with data; l1/l2 on a causal LM flagged as risky)."""

from __future__ import annotations

import torch

from engine.estimate import estimate_steps
from engine.job import Job
from engine.methods.base import MethodContext
from engine.methods.prune.structured import StructuredPruneConfig, apply_structured
from engine.models.hf import wrap_hf
from engine.models.types import LoadedModel
from tests.engine.conftest import tiny_recipe


def llama_gqa() -> LoadedModel:
    """4 query heads sharing 2 key/value heads (2 per group)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, vocab_size=50,
                      max_position_embeddings=64)  # fmt: skip
    return wrap_hf(LlamaForCausalLM(cfg), "causal-lm", None, "hf", "llama", {})


GQA_NOTE = ("heads: 2 of 4 per attention module (50%) will be removed, asked 25% (1 head): "
            "under grouped-query attention 2 query heads share each key/value head, so only "
            "whole groups can go (1 of 2 groups)")


def test_gqa_rounding_is_in_the_estimate_before_the_run_and_on_the_result():
    torch.set_num_threads(1)
    loaded = llama_gqa()
    cfg = StructuredPruneConfig(target="heads", amount=0.25, importance="taylor")
    est = estimate_steps(loaded.module, (cfg,), task="causal-lm", has_data=True)
    assert not est.steps[0].error and est.steps[0].notes == [GQA_NOTE]
    assert est.notes() == [f"Step 1: {GQA_NOTE}"]
    # what the note promised is what happens: 2 of 4 heads go in each layer
    res = apply_structured(dataclass_l1(cfg), MethodContext(loaded.module, "causal-lm"))
    assert [a.o_proj.in_features for a in attn(loaded)] == [16, 16]  # 2 heads of 8 left
    assert GQA_NOTE in res.summary["card"]["notes"]


def dataclass_l1(cfg: StructuredPruneConfig) -> StructuredPruneConfig:
    import dataclasses

    return dataclasses.replace(cfg, importance="l1")


def attn(loaded: LoadedModel) -> list:
    return [layer.self_attn for layer in loaded.module.model.model.layers]


def test_magnitude_importance_on_a_causal_lm_is_flagged_before_the_run():
    loaded = llama_gqa()
    for importance in ("l1", "l2"):
        est = estimate_steps(loaded.module, (StructuredPruneConfig(importance=importance),),
                             task="causal-lm")  # fmt: skip
        note, = est.steps[0].notes
        assert note.startswith(f"importance {importance} is risky on a causal LM: use taylor")
        assert "magnitude importance ignores how much each head/neuron matters" in note
        assert "41,605" in note and "taylor kept 57.9" in note
    # auto: what it resolves to depends on data; no warning on a classifier
    est = estimate_steps(loaded.module, (StructuredPruneConfig(),), task="causal-lm")
    assert est.steps[0].notes == ["importance auto: taylor when the recipe has data, else l1"]
    no_data = estimate_steps(loaded.module, (StructuredPruneConfig(),), task="causal-lm",
                             has_data=False)  # fmt: skip
    assert no_data.steps[0].notes[0].startswith("importance auto falls back to l1")
    est = estimate_steps(loaded.module, (StructuredPruneConfig(importance="l1"),),
                         task="classification")  # fmt: skip
    assert est.steps[0].notes == []


def test_auto_importance_runs_taylor_on_a_causal_lm_with_data_and_the_card_says_so(tmp_path):
    torch.set_num_threads(1)
    recipe = tiny_recipe(methods=(StructuredPruneConfig(amount=0.25),))  # tiny-gpt + shakespeare
    recipe = recipe.replace(train=recipe.train.__class__(epochs=1, max_steps=2, batch_size=8),
                            export=recipe.export.__class__(enabled=False))  # fmt: skip
    events: list = []
    result = Job(recipe, [events.append], workspace=tmp_path).run()
    assert result.ok, result.error
    step = result.card["steps"][0]
    assert step["importance"] == "taylor" and step["importance_asked"] == "auto"
    assert step["notes"] == ["importance auto: taylor (a causal LM with data)"]
    logs = [getattr(e, "message", "") for e in events]
    assert any(m.startswith("structured (taylor, layer): removed") for m in logs)


def test_cli_check_prints_the_gqa_rounding_and_the_importance_risk(tmp_path, capsys):
    from engine.cli import main

    folder = tmp_path / "llama"
    llama_gqa().module.model.save_pretrained(str(folder))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {{source: hf, path: '{folder}'}}\ndata: {{source: none}}\n"
                      "train: {epochs: 0}\n"
                      "methods:\n  - {type: structured_prune, target: heads, amount: 0.25}\n",
                      encoding="utf-8")  # fmt: skip
    assert main(["check", str(recipe)]) == 0
    out = capsys.readouterr().out
    assert "Step 1 · Structured pruning heads 25%" in out
    assert f"  note: {GQA_NOTE}" in out
    assert "  note: importance auto falls back to l1 (no data for taylor)" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text(encoding="utf-8").replace("amount: 0.25", "amount: 0.9"),
                   encoding="utf-8")  # fmt: skip
    assert main(["check", str(bad)]) == 2  # every head would go: refused before any run
    assert "would remove all" in capsys.readouterr().err


def test_no_gqa_note_when_whole_groups_give_exactly_what_was_asked():
    loaded = llama_gqa()
    exact = StructuredPruneConfig(target="heads", amount=0.5, importance="taylor")
    assert exact.notes(loaded.module, "causal-lm", True) == []
    rounded = StructuredPruneConfig(target="heads", amount=0.3, scope="global", importance="taylor")
    note, = rounded.notes(loaded.module, "causal-lm", True)
    assert note.startswith("heads: 2 of 8 (25%) will be removed, asked 30% (2.4 heads)")
