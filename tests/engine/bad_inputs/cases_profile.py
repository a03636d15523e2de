"""Bad `workbench-cli profile` input: an unknown model or variant, settings out of range."""

from __future__ import annotations

from pathlib import Path

from tests.engine.bad_inputs.common import Case


def _profile(*args: str):
    def build(tmp: Path, ws: Path) -> list[str]:
        return ["profile", *args, "-w", str(ws)]

    return build


CASES = [
    Case("profile an unknown name", _profile("no-such-model"),
         "no-such-model: no finished variant of that name or id"),
    Case("profile a missing file", _profile("gone/model.pt"),
         "no such file or folder, and not a built-in model"),
    Case("profile batch 0", _profile("tiny-gpt", "--batch", "0"),
         "--batch: must be in [1, 4096], got 0"),
    Case("profile a curve batch of 0", _profile("tiny-gpt", "--sweep-batches", "0,2"),
         "--sweep-batches: every value must be at least 1, got [0, 2]"),
]
