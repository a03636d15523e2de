"""Models as users bring them: their own classes, tokenizers and TorchScript files."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from tests.engine.bad_inputs.cases_files import RunsCode, _tiny_state
from tests.engine.bad_inputs.common import Case, with_model


def _training_checkpoint(tmp: Path) -> Path:
    """The common {"model_state_dict": ..., "config": ...} layout, for a class not built in."""
    state = {"encoder.w": torch.ones(4, 4), "head.w": torch.ones(2, 4)}
    torch.save({"model_state_dict": state, "config": {"d": 4}, "epoch": 1}, tmp / "ckpt.pt")
    return tmp / "ckpt.pt"


def _torchscript(tmp: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lin = torch.nn.Linear(4, 2).eval()
        torch.jit.save(torch.jit.trace(lin, torch.randn(1, 4)), str(tmp / "lin.ts"))
    return tmp / "lin.ts"


def _hostile_tokenizer(tmp: Path) -> Path:
    (tmp / "tok.pkl").write_bytes(pickle.dumps(RunsCode(tmp)))
    return tmp / "tok.pkl"


def _good(tmp: Path) -> Path:
    torch.save(_tiny_state(), tmp / "good.pt")
    return tmp / "good.pt"


CASES = [
    Case("training checkpoint of a custom class",
         with_model(lambda t: f"{{source: torch, path: {_training_checkpoint(t)}}}"),
         "training checkpoint (weights + 'config')"),
    Case("TorchScript given as source torch",
         with_model(lambda t: f"{{source: torch, path: {_torchscript(t)}, input_shape: [1, 4]}}"),
         "is a TorchScript file (saved with torch.jit.save); use model.source: torchscript"),
    Case("untrusted tokenizer pickle",
         with_model(lambda t: f"{{source: builtin, path: tiny-gpt, tokenizer: {_hostile_tokenizer(t)}}}"),
         "model.tokenizer: tokenizer"),
    Case("tokenizer file missing",
         with_model(lambda t: f"{{source: builtin, path: tiny-gpt, tokenizer: {t / 'none.json'}}}"),
         "none.json not found"),
    Case("python_path not a folder",
         with_model(lambda t: f"{{source: torch, path: {_good(t)}, architecture: tiny-gpt, "
                              f"trust: true, python_path: {t / 'nowhere'}}}"),
         "model.python_path: python_path"),
]
