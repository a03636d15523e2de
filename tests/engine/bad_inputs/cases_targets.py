"""Bad deployment-target input: unknown names in a recipe or on the CLI, a broken target file."""

from __future__ import annotations

from pathlib import Path

from tests.engine.bad_inputs.common import Case, run_text, swap


def _check(target: str, variant: str = "tiny-prune"):
    def build(tmp: Path, ws: Path) -> list[str]:
        return ["check", variant, "--target", target, "-w", str(ws)]

    return build


def _broken_target(text: str):
    def build(tmp: Path, ws: Path) -> list[str]:
        (ws / "targets").mkdir(exist_ok=True)
        (ws / "targets" / "edge.yaml").write_text(text, encoding="utf-8")
        return ["check", "tiny-prune", "--target", "edge", "-w", str(ws)]

    return build


CASES = [
    Case("deploy target unknown", run_text(swap() + "deploy: {targets: [edge, toaster]}\n"),
         "deploy.targets[1]: unknown target 'toaster'; known: edge, mobile"),
    Case("deploy not a mapping", run_text(swap() + "deploy: [edge]\n"),
         "deploy: must be a mapping of settings"),
    Case("deploy targets not text", run_text(swap() + "deploy: {targets: [3]}\n"),
         "deploy.targets: item 1 must be text"),
    Case("check against an unknown target", _check("toaster"),
         "--target: unknown target 'toaster'; known: edge"),
    Case("check an unknown variant", _check("edge", "no-such-variant"),
         "no finished variant named or numbered 'no-such-variant'"),
    Case("target file with a bad limit", _broken_target("kind: edge\nmax_size_mb: -1\n"),
         "edge.yaml: target.max_size_mb: must be in (0, inf]", workspace="copy"),
    Case("target file not YAML", _broken_target("kind: [edge\n"),
         "edge.yaml: is not valid YAML", workspace="copy"),
]
