"""Models as users bring them: a custom class with its own tokenizer, training checkpoints,
TorchScript text models with input_ids only, and TorchScript refused for pruning/training."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import onnx
import pytest
import torch

from engine.config_fields import ConfigError
from engine.job import Job
from engine.models.checkpoint import load_checkpoint
from engine.models.loaders import load_model
from engine.models.text_adapter import TextAdapter
from engine.recipe import ModelSpec, Recipe

# the user's model class lives in their own .py file; the pickle refers to it by module name
GPT_SOURCE = textwrap.dedent('''
    import torch
    from torch import nn


    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.out = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.proj = nn.Linear(4 * d, d)

        def forward(self, x):
            t = x.shape[1]
            q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
            scores = q @ k.transpose(1, 2) / (q.shape[-1] ** 0.5)
            causal = torch.ones(t, t, device=x.device).triu(1).bool()
            att = scores.masked_fill(causal, float("-inf")).softmax(-1)
            x = x + self.out(att @ v)
            return x + self.proj(torch.relu(self.fc(self.ln2(x))))


    class UserGPT(nn.Module):
        def __init__(self, vocab=64, d=32, layers=2, positions=64):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(positions, d)
            self.blocks = nn.ModuleList([Block(d) for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)

        def forward(self, input_ids):
            t = input_ids.shape[1]
            x = self.tok(input_ids) + self.pos(torch.arange(t, device=input_ids.device))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x))
''')
LINES = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song",
         "my cat and your dog play", "the sun is warm today"]


def write_class(folder: Path, module_name: str) -> type:
    """The user's .py file in folder, imported the way the user's script imports it."""
    import importlib.util

    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{module_name}.py"
    file.write_text(GPT_SOURCE)
    spec = importlib.util.spec_from_file_location(module_name, file)
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[module_name] = mod  # torch.save pickles the class as module_name.UserGPT
    spec.loader.exec_module(mod)
    return mod.UserGPT


def write_tokenizer(path: Path) -> Path:
    """A word-level tokenizer.json trained offline on LINES."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(LINES, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"]))
    tok.save(str(path))
    return path


def custom_gpt(tmp_path: Path, module_name: str) -> tuple[Path, Path, Path]:
    """(pickled module, its class folder, tokenizer.json) as a user would have them."""
    code = tmp_path / "code"
    torch.manual_seed(0)
    model = write_class(code, module_name)()
    torch.save(model, tmp_path / "gpt.pt")
    return tmp_path / "gpt.pt", code, write_tokenizer(tmp_path / "tokenizer.json")


def test_custom_module_with_tokenizer_trains_evaluates_exports_and_reloads(tmp_path):
    model_file, code, tok_file = custom_gpt(tmp_path, "user_gpt_e2e")
    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(LINES * 40))
    recipe = Recipe.from_dict({
        "name": "custom-gpt",
        "model": {"source": "torch", "path": str(model_file), "trust": True, "task": "causal-lm",
                  "python_path": str(code), "tokenizer": str(tok_file)},
        "data": {"source": "text", "path": str(text), "max_length": 16},
        "methods": [{"type": "unstructured_prune", "amount": 0.3}],
        "train": {"epochs": 1, "max_steps": 6, "batch_size": 8, "eval_every": 3, "log_every": 2},
        "export": {"parity_batches": 1, "latency_runs": 3, "latency_seq": 16},
    })
    ws = tmp_path / "ws"
    result = Job(recipe, workspace=ws).run()
    assert result.ok, result.error
    card = result.card
    assert 1 < card["metrics"]["perplexity"] < 1000
    onnx_file = Path(card["onnx"]["path"])
    # forward takes input_ids only, so the ONNX file has exactly that one input
    assert [i.name for i in onnx.load(str(onnx_file)).graph.input] == ["input_ids"]
    assert card["onnx"]["max_abs_diff"] < 1e-3
    folder = ws / "runs" / result.run_id / "checkpoint"
    if not folder.is_dir():
        folder = next(p.parent for p in ws.rglob("workbench.json"))
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["text_adapter"] == {"ids_only": True} and manifest["tokenizer"] == "hf"
    back = load_checkpoint(folder, trust=True)
    assert isinstance(back.module, TextAdapter) and back.module.ids_only  # stored bare, wrapped again on load
    # with trust the variant is the Python module again (TorchScript could not be pruned)
    assert not isinstance(back.module.inner, torch.jit.ScriptModule)
    if manifest["storage"] == "torchscript":
        assert isinstance(load_checkpoint(folder).module.inner, torch.jit.ScriptModule)
    child = Recipe.from_dict({
        "name": "custom-gpt-ffn",
        "model": {"source": "variant", "path": "custom-gpt", "trust": True, "python_path": str(code)},
        "data": {"source": "text", "path": str(text), "max_length": 16},
        "methods": [{"type": "structured_prune", "target": "ffn", "amount": 0.25}],
        "train": {"epochs": 0}, "export": {"parity_batches": 1, "latency_runs": 3, "latency_seq": 16},
    })
    again = Job(child, workspace=ws).run()
    assert again.ok, again.error
    assert again.card["model"]["params"] < card["model"]["params"]
    assert back.tokenizer is not None and back.tokenizer.encode("the cat") == \
        load_model(recipe.model).tokenizer.encode("the cat")


def test_training_checkpoint_dict_with_config_says_how_to_save_it(tmp_path):
    torch.manual_seed(0)
    model = write_class(tmp_path / "code", "user_gpt_dict")()
    torch.save({"model_state_dict": model.state_dict(), "config": {"vocab": 64, "d": 32},
                "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(ConfigError) as err:
        load_model(ModelSpec(source="torch", path=str(tmp_path / "ckpt.pt")))
    message = str(err.value)
    assert "training checkpoint" in message and "'config'" in message
    assert "torch.save(model)" in message and "model.python_path" in message
    assert "model.source: torchscript" in message and "tiny-gpt" not in message


def test_trusted_pickle_whose_class_cannot_be_imported_names_python_path(tmp_path):
    model_file, code, _ = custom_gpt(tmp_path, "user_gpt_missing")
    import sys

    del sys.modules["user_gpt_missing"]  # a fresh process that never imported the class
    with pytest.raises(ConfigError, match=r"model.python_path: .*set model.python_path"):
        load_model(ModelSpec(source="torch", path=str(model_file), trust=True))
    with pytest.raises(ConfigError, match=r"model.python_path: .*not an existing folder"):
        load_model(ModelSpec(source="torch", path=str(model_file), trust=True,
                             python_path=str(tmp_path / "nowhere")))
    loaded = load_model(ModelSpec(source="torch", path=str(model_file), trust=True,
                                  python_path=str(code), task="causal-lm"))
    assert isinstance(loaded.module, TextAdapter) and loaded.vocab_size == 64
    assert loaded.max_positions == 64  # from the position table: data.max_length is checked


def test_text_model_without_tokenizer_says_how_to_give_one(tmp_path):
    from engine.data import load_data
    from engine.recipe import DataSpec

    model_file, code, _ = custom_gpt(tmp_path, "user_gpt_notok")
    (tmp_path / "t.txt").write_text("\n".join(LINES * 10))
    loaded = load_model(ModelSpec(source="torch", path=str(model_file), trust=True,
                                  python_path=str(code), task="causal-lm"))
    with pytest.raises(ConfigError, match=r"model.tokenizer: .*set model.tokenizer to a tokenizer"):
        load_data(DataSpec(source="text", path=str(tmp_path / "t.txt"), max_length=16), loaded)


class Pickled:
    """A user's own tokenizer object: encode/decode and a vocabulary, nothing else."""

    def __init__(self):
        self.stoi = {w: i for i, w in enumerate(sorted({w for line in LINES for w in line.split()}))}

    def encode(self, text):
        return [self.stoi.get(w, 0) for w in text.split()]

    def decode(self, ids):
        words = list(self.stoi)
        return " ".join(words[i] for i in ids)


def test_tokenizer_pickle_needs_trust_and_is_adapted(tmp_path):
    model_file, code, _ = custom_gpt(tmp_path, "user_gpt_pickletok")
    torch.save(Pickled(), tmp_path / "tok.pt")
    spec = ModelSpec(source="torch", path=str(model_file), trust=True, python_path=str(code),
                     task="causal-lm", tokenizer=str(tmp_path / "tok.pt"))
    tok = load_model(spec).tokenizer
    assert tok.vocab_size == len(Pickled().stoi) and tok.decode(tok.encode("the cat")) == "the cat"
    ids, mask = tok.encode_batch(["the cat sat", "dog"], 4)
    assert ids.shape == (2, 4) and mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert tok.pad_id == 0 and tok.decode([0]) == "a"  # a fallback pad id is still a real token
    # trust for the model file is not trust for a tokenizer pickle given to a TorchScript model
    scripted = torch.jit.trace(torch.nn.Embedding(64, 8).eval(), torch.zeros(1, 4, dtype=torch.long))
    torch.jit.save(scripted, tmp_path / "emb.ts")
    with pytest.raises(ConfigError, match=r"model.tokenizer: .*pickle.*model.trust: true"):
        load_model(ModelSpec(source="torchscript", path=str(tmp_path / "emb.ts"), task="causal-lm",
                             tokenizer=str(tmp_path / "tok.pt")))
    torch.save(object(), tmp_path / "bad.pt")
    with pytest.raises(ConfigError, match=r"holds a object, which lacks encode, decode"):
        load_model(dataclasses.replace(spec, tokenizer=str(tmp_path / "bad.pt")))


def test_tokenizer_file_or_folder_gives_a_hugging_face_model_its_tokenizer_and_is_saved(tmp_path):
    from engine.models.checkpoint import save_model
    from tests.engine.test_models_hf import make_llama

    folder = make_llama(tmp_path / "llama")  # a folder without tokenizer files
    tok_file = write_tokenizer(tmp_path / "tokenizer.json")
    loaded = load_model(ModelSpec(source="hf", path=str(folder), tokenizer=str(tok_file)))
    ids = loaded.tokenizer.encode("the cat sat")
    assert len(ids) == 3 and loaded.tokenizer.decode(ids) == "the cat sat"
    batch, mask = loaded.tokenizer.encode_batch(["the cat", "a"], 4)  # pads with [PAD]
    assert mask.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0]] and batch[1, 1] == loaded.tokenizer.pad_id
    back = load_checkpoint(save_model(loaded, tmp_path / "ckpt"))
    assert back.tokenizer.encode("the cat sat") == ids
    # the saved checkpoint is also a tokenizer folder model.tokenizer accepts
    again = load_model(ModelSpec(source="hf", path=str(folder), tokenizer=str(tmp_path / "ckpt")))
    assert again.tokenizer.encode("the cat sat") == ids
    with pytest.raises(ConfigError, match=r"model.tokenizer: .*not found; give a Hugging Face"):
        load_model(ModelSpec(source="hf", path=str(folder), tokenizer=str(tmp_path / "none.json")))
    with pytest.raises(ConfigError, match=r"model.tokenizer: .*holds no readable tokenizer files"):
        load_model(ModelSpec(source="hf", path=str(folder), tokenizer=str(tmp_path / "llama")))


class NanoStyle(torch.nn.Module):
    """nanoGPT's signature: forward(idx, targets=None) -> (logits, loss)."""

    def __init__(self, last_only: bool = False):
        super().__init__()
        self.emb = torch.nn.Embedding(40, 8)
        self.head = torch.nn.Linear(8, 40)
        self.last_only = last_only

    def forward(self, idx, targets=None):
        logits = self.head(self.emb(idx))
        if self.last_only:  # nanoGPT at inference: the last position only
            logits = logits[:, -1:, :]
        loss = None if targets is None else torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets.flatten())
        return logits, loss


class MaskDict(torch.nn.Module):
    """forward(input_ids, attention_mask) -> {"logits": ...}."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(40, 8)
        self.head = torch.nn.Linear(8, 40)

    def forward(self, input_ids, attention_mask):
        return {"hidden": None, "logits": self.head(self.emb(input_ids)) * attention_mask[..., None]}


def test_user_signatures_and_outputs_are_adapted_or_refused_clearly(tmp_path):
    from engine.export_variant import export_loaded
    from engine.recipe import ExportConfig

    def load(module, name):
        torch.save(module, tmp_path / name)
        return load_model(ModelSpec(source="torch", path=str(tmp_path / name), trust=True,
                                    task="causal-lm"))

    nano = load(NanoStyle(), "nano.pt")
    ids, mask = nano.example_inputs(batch=2, seq=8)
    assert isinstance(nano.module, TextAdapter) and nano.module.ids_only  # targets is no mask
    assert torch.equal(nano.module(ids, mask), nano.module.inner(ids)[0])
    report = export_loaded(nano, None, tmp_path / "nano.onnx", ExportConfig(latency_runs=3))
    assert [i.name for i in onnx.load(str(tmp_path / "nano.onnx")).graph.input] == ["input_ids"]
    assert report.max_abs_diff < 1e-4
    masked = load(MaskDict(), "dict.pt")
    assert isinstance(masked.module, TextAdapter) and not masked.module.ids_only
    assert torch.equal(masked.module(ids, mask * 0), torch.zeros(2, 8, 40))  # the mask reaches it
    with pytest.raises(ConfigError, match=r"returns a tensor of shape \[1, 1, 40\].*\[batch, seq, vocab\]"):
        load(NanoStyle(last_only=True), "last.pt")


class BagClassifier(torch.nn.Module):
    """An ids-only text classifier: mean of token embeddings -> class scores."""

    def __init__(self, classes: int = 2):
        super().__init__()
        self.emb = torch.nn.Embedding(64, 8)
        self.head = torch.nn.Linear(8, classes)

    def forward(self, input_ids):
        return self.head(self.emb(input_ids).mean(1))


def test_custom_text_classifier_takes_its_classes_from_its_head_and_trains_on_a_csv(tmp_path):
    torch.manual_seed(0)
    torch.save(BagClassifier(), tmp_path / "clf.pt")
    tok = write_tokenizer(tmp_path / "tokenizer.json")
    model = {"source": "torch", "path": str(tmp_path / "clf.pt"), "trust": True,
             "task": "classification", "tokenizer": str(tok)}
    loaded = load_model(ModelSpec(**model))
    assert loaded.num_labels == 2 and isinstance(loaded.module, TextAdapter)
    with pytest.raises(ConfigError, match=r"model.num_labels: the model returns 2 class scores"):
        load_model(ModelSpec(**model, num_labels=3))
    rows = [f"{line},{'animal' if ('cat' in line or 'dog' in line) else 'other'}" for line in LINES]
    (tmp_path / "d.csv").write_text("text,label\n" + "\n".join(rows * 12))
    recipe = Recipe.from_dict({
        "name": "clf", "model": model,
        "data": {"source": "labelled", "path": str(tmp_path / "d.csv"), "max_length": 8},
        "train": {"epochs": 1, "max_steps": 3, "batch_size": 8},
        "export": {"parity_batches": 1, "latency_runs": 3, "latency_seq": 8},
    })
    result = Job(recipe, workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    assert 0 <= result.card["metrics"]["accuracy"] <= 1
    assert [i.name for i in onnx.load(result.card["onnx"]["path"]).graph.input] == ["input_ids"]


def test_a_scriptable_custom_model_saved_as_torchscript_is_python_again_with_trust(tmp_path):
    from engine.models.checkpoint import save_model
    from engine.script_refusal import script_step_problem

    torch.manual_seed(0)
    torch.save(BagClassifier(), tmp_path / "clf.pt")
    loaded = load_model(ModelSpec(source="torch", path=str(tmp_path / "clf.pt"), trust=True,
                                  task="classification"))
    folder = save_model(loaded, tmp_path / "ckpt")
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["storage"] == "torchscript" and manifest["python_module"] == "model.pickle.pt"
    safe = load_checkpoint(folder)  # no trust: the TorchScript, which measures and exports
    assert isinstance(safe.module.inner, torch.jit.ScriptModule)
    assert "not pruned or trained" in script_step_problem(safe.module)
    python = load_checkpoint(folder, trust=True)  # the user's trust: prunable and trainable
    assert isinstance(python.module.inner, BagClassifier) and script_step_problem(python.module) == ""
    ids, mask = loaded.example_inputs(batch=2, seq=6)
    assert torch.equal(safe.module(ids, mask), python.module(ids, mask))


def test_cli_check_refuses_text_data_without_a_tokenizer(tmp_path, capsys):
    from engine.cli import main

    model_file, code, _ = custom_gpt(tmp_path, "user_gpt_check")
    (tmp_path / "t.txt").write_text("\n".join(LINES * 10))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"model: {{source: torch, path: {model_file}, trust: true, python_path: {code}, "
        f"task: causal-lm}}\ndata: {{source: text, path: {tmp_path / 't.txt'}, max_length: 16}}\n"
    )
    assert main(["check", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "model.tokenizer: the model has no tokenizer" in err and "Traceback" not in err
