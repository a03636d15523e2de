"""The recipe's `deploy:` section: the targets every deployable file is checked against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.config_fields import option
from engine.deploy.targets import check_target_names

_WORKSPACE: list[Path] = []  # the workspace this process works in, once it is named


def use_workspace(root: str | Path) -> None:
    """Name the workspace whose `targets/` folder recipes may use (the CLI's -w, the GUI's,
    a Job's): recipes are validated before a job opens its workspace, so it is named first."""
    _WORKSPACE[:] = [Path(root)]


def _workspace_hint() -> Path:
    """The workspace whose targets a recipe may name: the one named by use_workspace, else the
    default one ($WORKBENCH_WORKSPACE)."""
    from engine.store import default_workspace

    return _WORKSPACE[0] if _WORKSPACE else default_workspace()


@dataclass(frozen=True)
class DeployConfig:
    targets: tuple[str, ...] = option(
        (), label="Targets",
        help="deployment targets each deployable file is checked against at the end of the "
        "job, comma-separated (shipped: server-cpu, server-gpu, mobile, mobile-npu, edge; your own in "
        "<workspace>/targets/*.yaml); the results go on the card",
    )

    def extra_checks(self) -> list[tuple[str, str]]:
        errors = check_target_names(self.targets, "targets", _workspace_hint())
        return [(e.path, e.message) for e in errors]
