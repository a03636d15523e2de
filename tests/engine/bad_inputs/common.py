"""The shape of a bad-input case and helpers to build recipe files for them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.engine.conftest import TINY_RECIPE

MARKER = "pwned"  # a malicious pickle creates tmp/pwned when it runs


@dataclass(frozen=True)
class Case:
    """One bad input: build it in `tmp` against workspace `ws`, returning the CLI argv.

    `expect` must appear in the one `error:` line: the field or file it names (and often
    the fix). `workspace`: "shared" is the session's finished tiny job, "copy" a copy of it
    that the case may change before the run, "own" a folder the case makes itself.
    """

    id: str
    build: Callable[[Path, Path], list[str]]
    expect: str
    code: int = 2
    workspace: str = "shared"


def swap(*pairs: tuple[str, str]) -> str:
    """TINY_RECIPE with each (old, new) replaced; old must be there (catches typos)."""
    text = TINY_RECIPE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


def run_text(text: str | bytes, name: str = "bad.yaml") -> Callable[[Path, Path], list[str]]:
    """A builder that writes `text` as the recipe and runs it."""

    def build(tmp: Path, ws: Path) -> list[str]:
        path = tmp / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return ["run", str(path), "-w", str(ws), "-q"]

    return build


def run_swapped(*pairs: tuple[str, str]) -> Callable[[Path, Path], list[str]]:
    return run_text(swap(*pairs))


def with_model(model_yaml: Callable[[Path], str]) -> Callable[[Path, Path], list[str]]:
    """A builder whose recipe's model section is model_yaml(tmp) (files made there)."""

    def build(tmp: Path, ws: Path) -> list[str]:
        text = swap(("model: {source: builtin, path: tiny-gpt}", f"model: {model_yaml(tmp)}"))
        return run_text(text)(tmp, ws)

    return build


def with_data(data_yaml: Callable[[Path], str]) -> Callable[[Path, Path], list[str]]:
    """A builder whose recipe's data section is data_yaml(tmp) (files made there)."""

    def build(tmp: Path, ws: Path) -> list[str]:
        old = "data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 200}"
        return run_text(swap((old, f"data: {data_yaml(tmp)}")))(tmp, ws)

    return build


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root with a hash of its bytes: 'nothing changed' is equality."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
    return out
