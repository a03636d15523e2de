"""Bad input to `workbench-cli report`: an unknown variant, an --out that cannot be written, an
unknown deployment target. Each is refused before any page is drawn."""

from __future__ import annotations

from pathlib import Path

from tests.engine.bad_inputs.common import Case


def _report(*args: str, out: str = "report.html"):
    def build(tmp: Path, ws: Path) -> list[str]:
        return ["report", *args, "--out", str(tmp / out), "-w", str(ws)]

    return build


def _out_is_a_folder(tmp: Path, ws: Path) -> list[str]:
    return ["report", "tiny-prune", "--out", str(tmp), "-w", str(ws)]


def _no_workspace(tmp: Path, ws: Path) -> list[str]:
    return ["report", "--out", str(tmp / "r.html"), "-w", str(tmp / "no-such-workspace")]


CASES = [
    # nothing is created there: a mistyped -w must not leave an empty workspace behind
    Case("report on a folder that holds no workspace", _no_workspace, "no workspace at"),
    Case("report on an unknown variant", _report("nope"), "no variant named or numbered 'nope'"),
    Case("report into a folder that does not exist", _report("tiny-prune", out="missing/r.html"),
         "does not exist; create it or choose another file"),
    Case("report --out naming a folder", _out_is_a_folder, "is a folder; give a file name"),
    Case("report checked against an unknown target", _report("tiny-prune", "--target", "moon"),
         "moon"),
]
