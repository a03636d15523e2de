"""The shipped recipes for users' own files run end to end through workbench-cli's main().

The test writes what a user would bring into a folder: my-hf-model/ (a tiny BERT encoder
without a classification head, saved with save_pretrained, with a tokenizer built offline
from the MiniLM package's vocab.txt) and reviews.csv (text,label with 3 sentiment classes),
then runs the recipes as shipped, on fewer samples and steps, from that folder.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.recipe import Recipe
from engine.store import Workspace

RECIPES = Path(__file__).resolve().parents[2] / "assets" / "recipes"
REVIEWS = {
    "positive": ["a great film, i loved it", "wonderful acting and a happy ending"],
    "negative": ["a terrible plot, i hated it", "boring and far too long"],
    "neutral": ["the film is two hours long", "it was shown on a tuesday"],
}


def write_user_files(folder: Path) -> None:
    """my-hf-model/ and reviews.csv, as a user brings them."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from engine.models.builtin import minilm_path

    tokenizer = BertTokenizerFast(vocab_file=str(minilm_path() / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(str(folder / "my-hf-model"))  # an encoder, no head
    tokenizer.save_pretrained(str(folder / "my-hf-model"))
    with (folder / "reviews.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(20):
            for label, texts in REVIEWS.items():
                w.writerow([texts[i % 2], label])


def small(recipe: Recipe, export: bool) -> Recipe:
    """The recipe as shipped, on less data and fewer steps, exported by TorchScript (opset 17:
    seconds where dynamo takes tens; dynamo on an HF BERT is test_prune_structured's [hf-bert])."""
    return recipe.replace(
        data=dataclasses.replace(recipe.data, max_samples=30, max_length=32),
        train=dataclasses.replace(recipe.train, epochs=1, max_steps=2, eval_every=2,
                                  batch_size=8, warmup_steps=0),
        export=dataclasses.replace(recipe.export, enabled=export, parity_batches=1,
                                   latency_runs=3, latency_seq=32, opset=17),
    )


@pytest.mark.parametrize(
    ("stem", "export", "model"),
    [("hf-folder-sentiment", True, "my-hf-model: BertForSequenceClassification"),
     ("csv-sentiment-minilm", False, "minilm-bbc")],
)
def test_shipped_user_file_recipe_runs(tmp_path, monkeypatch, stem, export, model):
    write_user_files(tmp_path)
    recipe = small(Recipe.load(RECIPES / f"{stem}.yaml"), export)
    (tmp_path / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the recipes name my-hf-model and reviews.csv relatively
    assert main(["run", "recipe.yaml", "--workspace", str(tmp_path / "ws"), "--quiet"]) == 0
    ws = Workspace(tmp_path / "ws")
    card = next(v.card for v in ws.variants() if v.name == recipe.name)
    assert card["task"] == "classification"
    assert card["model"]["description"].startswith(model)
    assert "3 classes (negative, neutral, positive;" in card["data"]
    assert "accuracy" in card["metrics"]
    assert (card["onnx"] is not None) == export
    if recipe.methods:
        assert card["sparsity"]["overall"] == pytest.approx(0.5, abs=0.01)
