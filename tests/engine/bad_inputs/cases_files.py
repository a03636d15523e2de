"""Bad model and data files, hostile pickles among them (none may run its code)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import torch

from tests.engine.bad_inputs.common import MARKER, Case, with_data, with_model


class RunsCode:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, folder: Path):
        self.cmd = f"touch {folder / MARKER}"

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _tiny_state() -> dict[str, torch.Tensor]:
    from engine.models.loaders import load_model
    from engine.recipe import ModelSpec

    return load_model(ModelSpec()).module.state_dict()


def _torch_file(make):
    """model yaml for a torch.save file `make(tmp)` returns."""
    return lambda tmp: f"{{source: torch, path: {make(tmp)}, architecture: tiny-gpt}}"


def _good(tmp: Path) -> Path:
    torch.save(_tiny_state(), tmp / "good.pt")
    return tmp / "good.pt"


def _truncated(tmp: Path) -> Path:
    data = _good(tmp).read_bytes()
    (tmp / "cut.pt").write_bytes(data[: len(data) // 2])
    return tmp / "cut.pt"


def _text(tmp: Path) -> Path:
    (tmp / "notes.pt").write_text("these are my notes, not a model\n")
    return tmp / "notes.pt"


def _evil_zip(tmp: Path) -> Path:
    torch.save({"payload": RunsCode(tmp)}, tmp / "evil.pt")
    return tmp / "evil.pt"


def _evil_legacy(tmp: Path) -> Path:
    torch.save({"payload": RunsCode(tmp)}, tmp / "legacy.pt", _use_new_zipfile_serialization=False)
    return tmp / "legacy.pt"


def _evil_raw_pickle(tmp: Path) -> Path:
    (tmp / "raw.pt").write_bytes(pickle.dumps(RunsCode(tmp)))
    return tmp / "raw.pt"


def _empty(tmp: Path) -> Path:
    (tmp / "empty.pt").write_bytes(b"")
    return tmp / "empty.pt"


def _nan_weights(tmp: Path) -> Path:
    state = _tiny_state()
    next(v for k, v in state.items() if k.endswith("weight") and v.dim() == 2).fill_(float("nan"))
    torch.save(state, tmp / "nan.pt")
    return tmp / "nan.pt"


def _crafted_checkpoint(tmp: Path) -> Path:
    """A folder whose manifest claims a pickled module (the manifest is no permission)."""
    folder = tmp / "crafted"
    folder.mkdir()
    torch.save(RunsCode(tmp), folder / "model.pickle.pt")
    manifest = {"format": "workbench-checkpoint", "version": 1, "kind": "torch", "task": "generic",
                "input_names": ["input"], "storage": "pickle", "needs_full_unpickling": True}
    (folder / "workbench.json").write_text(json.dumps(manifest))
    return folder


def _replace_variant_checkpoint(tmp: Path, ws: Path) -> list[str]:
    """The finished variant's run folder swapped behind the index's back, then loaded by name."""
    run = next(p for p in (ws / "runs").iterdir() if (p / "checkpoint").is_dir())
    shutil.rmtree(run / "checkpoint")
    shutil.copytree(_crafted_checkpoint(tmp), run / "checkpoint")
    return with_model(lambda t: "{source: variant, path: tiny-prune}")(tmp, ws)


def _delete_variant_folder(tmp: Path, ws: Path) -> list[str]:
    run = next(p for p in (ws / "runs").iterdir() if (p / "checkpoint").is_dir())
    shutil.rmtree(run)
    return with_model(lambda t: "{source: variant, path: tiny-prune}")(tmp, ws)


def _file(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


def _cp1252_csv(tmp: Path) -> Path:
    rows = "text,label\n" + "".join(f"caf\xe9 cr\xe8me {i},{'a' if i % 2 else 'b'}\n" for i in range(40))
    return _file(tmp, "cp.csv", rows.encode("cp1252"))


_CSV = "{{source: labelled, path: {}, max_length: 32}}"
_BERT = "model: {source: builtin, path: tiny-bert}"

CASES = [
    Case("model file missing", with_model(lambda t: f"{{source: torch, path: {t / 'nope.pt'}, architecture: tiny-gpt}}"),
         "model file not found"),
    Case("truncated checkpoint", with_model(_torch_file(_truncated)), "cut.pt is not a readable PyTorch checkpoint"),
    Case("text renamed .pt", with_model(_torch_file(_text)), "notes.pt is not a readable PyTorch checkpoint"),
    Case("empty model file", with_model(_torch_file(_empty)), "empty.pt is empty (0 bytes)"),
    Case("folder given as a torch file", with_model(lambda t: f"{{source: torch, path: {t}, architecture: tiny-gpt}}"),
         "is a folder; this model source needs a file"),
    Case("pickle running code (zip)", with_model(_torch_file(_evil_zip)), "model.trust"),
    Case("pickle running code (legacy format)", with_model(_torch_file(_evil_legacy)), "model.trust"),
    Case("raw pickle running code", with_model(_torch_file(_evil_raw_pickle)), "raw.pt"),
    Case("crafted checkpoint folder", with_model(lambda t: f"{{source: checkpoint, path: {_crafted_checkpoint(t)}}}"),
         "model.trust: "),
    Case("variant folder replaced by a crafted one", _replace_variant_checkpoint, "model.trust: ",
         workspace="copy"),
    Case("variant whose run folder was deleted", _delete_variant_folder, "its run folder", workspace="copy"),
    Case("variant that does not exist", with_model(lambda t: "{source: variant, path: no-such-variant}"),
         "no finished variant named or numbered 'no-such-variant'"),
    Case("folder without a manifest", with_model(lambda t: f"{{source: checkpoint, path: {t}}}"),
         "is not a workbench checkpoint (no workbench.json)"),
    Case("damaged manifest", with_model(lambda t: f"{{source: checkpoint, path: {_file(t, 'workbench.json', b'{oops').parent}}}"),
         "workbench.json is damaged"),
    Case("state_dict without architecture", with_model(lambda t: f"{{source: torch, path: {_good(t)}}}"),
         "model.architecture"),
    Case("unknown architecture", with_model(lambda t: f"{{source: torch, path: {_good(t)}, architecture: gpt-9}}"),
         "unknown architecture 'gpt-9'"),
    Case("garbage .safetensors", with_model(lambda t: f"{{source: safetensors, path: {_file(t, 'w.safetensors', b'garbage' * 9)}, architecture: tiny-gpt}}"),
         "w.safetensors is not a readable .safetensors file"),
    Case("garbage TorchScript", with_model(lambda t: f"{{source: torchscript, path: {_file(t, 'm.ts', b'garbage' * 9)}}}"),
         "m.ts is not a readable TorchScript file"),
    Case("Hugging Face folder without config", with_model(lambda t: f"{{source: hf, path: {t}}}"), "config.json"),
    Case("NaN weights", with_model(_torch_file(_nan_weights)), "NaN/inf weights"),
    # data
    Case("data file missing", with_data(lambda t: f"{{source: text, path: {t / 'none.txt'}}}"), "data file not found"),
    Case("data file empty", with_data(lambda t: f"{{source: text, path: {_file(t, 'e.txt', b'  ')}}}"), "e.txt is empty"),
    Case("data folder for text", with_data(lambda t: f"{{source: text, path: {t}}}"), "is a folder"),
    Case("binary text data", with_data(lambda t: f"{{source: text, path: {_file(t, 'b.txt', bytes(range(256)) * 20)}}}"),
         "b.txt looks like a binary file"),
    Case("a device as text data", with_data(lambda t: "{source: text, path: /dev/urandom}"),
         "/dev/urandom is not a regular file"),
    Case("labelled data with one class", lambda t, w: _classify(t, w, _file(t, "one.csv", b"text,label\nhi,a\nbye,a\nyo,a\n")),
         "one.csv has a single class ('a')"),
    Case("CSV with binary bytes", lambda t, w: _classify(t, w, _file(t, "b.csv", b"text,label\n\x00\x01\xff\xfe,a\n" * 30)),
         "b.csv looks like a binary file"),
    Case("CSV without the label column", lambda t, w: _classify(t, w, _file(t, "c.csv", b"text,kind\nhello,a\nbye,b\n")),
         "has no column 'label'"),
    Case("JSONL with a broken line", lambda t, w: _classify(t, w, _file(t, "d.jsonl", b'{"text": "a", "label": "x"}\n{oops\n')),
         "line 2 of"),
    Case("unknown encoding", lambda t, w: _classify(t, w, _cp1252_csv(t), ", encoding: klingon"),
         "data.encoding: data.encoding 'klingon' is not a known encoding"),
    Case("wrong encoding given", lambda t, w: _classify(t, w, _cp1252_csv(t), ", encoding: utf-8"),
         "cp.csv is not valid utf-8 (byte 0xe9 at offset"),
]


def _classify(tmp: Path, ws: Path, data: Path, extra: str = "") -> list[str]:
    from tests.engine.bad_inputs.common import run_text, swap

    old = "data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}"
    text = swap(("model: {source: builtin, path: tiny-gpt}", _BERT),
                (old, "data: " + _CSV.format(data)[:-1] + extra + "}"))
    return run_text(text)(tmp, ws)
