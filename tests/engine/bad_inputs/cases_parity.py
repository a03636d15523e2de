"""Bad input to the GUI-parity verbs: `export` (re-export a variant), stored sensitivity scans, `pareto`."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.engine.bad_inputs.common import Case


def _verb(*args: str):
    def build(tmp: Path, ws: Path) -> list[str]:
        return [*args, "-w", str(ws)]

    return build


def _twin_named(verb: str):
    """A cancelled second run named tiny-prune, then `verb tiny-prune`: which one is meant?"""

    def build(tmp: Path, ws: Path) -> list[str]:
        from engine.store import Workspace

        store = Workspace(ws)
        store.mark(store.new_run("tiny-prune", "name: tiny-prune\n").id, "cancelled", "by the user")
        extra = ["--out", str(tmp / "r.html")] if verb == "report" else []
        return [verb, "tiny-prune", *extra, "-w", str(ws)]

    return build


def _variant_dir(ws: Path, name: str = "tiny-prune") -> tuple[str, Path]:
    from engine.store import Workspace

    store = Workspace(ws)
    v = store.resolve(name)
    return v.id, store.run_dir(v.id)


def _no_checkpoint(tmp: Path, ws: Path) -> list[str]:
    run_id, folder = _variant_dir(ws)
    shutil.rmtree(folder / "checkpoint")
    return ["export", run_id, "-w", str(ws)]


def _cancelled(tmp: Path, ws: Path) -> list[str]:
    from engine.store import Workspace

    run_id, _ = _variant_dir(ws)
    Workspace(ws).mark(run_id, "cancelled", "cancelled by the user")
    return ["export", run_id, "-w", str(ws)]


def _damaged_scan(tmp: Path, ws: Path) -> list[str]:
    (ws / "sensitivity").mkdir()
    (ws / "sensitivity" / "20260101-000000-abcdef.json").write_text('{"id": "20260101-000000-ab')
    return ["sensitivity", "--show", "20260101-000000-abcdef", "-w", str(ws)]


CASES = [
    Case("export by a name two variants have", _twin_named("export"), "2 variants are named 'tiny-prune'",
         workspace="copy"),
    Case("report on a name two variants have", _twin_named("report"), "2 variants are named 'tiny-prune'",
         workspace="copy"),
    Case("export an unknown variant", _verb("export", "nope"),
         "no variant named or numbered 'nope'"),
    Case("export a variant whose model file is gone", _no_checkpoint,
         "cannot be exported: its checkpoint", workspace="copy"),
    Case("export a cancelled run", _cancelled,
         "is cancelled; only finished variants can be exported", workspace="copy"),
    Case("export without a workspace", _verb("export", "tiny-prune"), "no workspace at",
         workspace="own"),
    Case("show an unknown sensitivity scan", _verb("sensitivity", "--show", "nope"),
         "no sensitivity scan 'nope'"),
    Case("show a damaged sensitivity scan", _damaged_scan,
         "sensitivity scan 20260101-000000-abcdef is damaged", workspace="copy"),
    Case("sensitivity without a recipe", _verb("sensitivity"), "give a recipe file to scan"),
    Case("pareto of a metric no variant has", _verb("pareto", "--metric", "bleu"),
         "has a measured bleu and ONNX latency"),
    Case("pareto without a workspace", _verb("pareto"), "no workspace at", workspace="own"),
]
