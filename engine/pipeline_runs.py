"""Which runs a job deals with: the one it resumes, a variant it starts from, its parent's card.

A mixin for engine.stages.Pipeline, which supplies ws (the Workspace) and parent_id.
"""

from __future__ import annotations

from typing import Any

from engine.recipe import ModelSpec
from engine.store import TRAIN_STATE as STATE_FILE
from engine.store import Variant, Workspace
from engine.train.state import read_train_state


class PipelineRuns:
    """Pipeline methods that find, check and reopen the runs a job reads or continues."""

    ws: Workspace
    parent_id: str | None

    def _parent_card(self) -> dict[str, Any] | None:
        """The parent variant's card, or None (no parent, or it was deleted meanwhile)."""
        if not self.parent_id:
            return None
        try:
            return self.ws.get(self.parent_id).card
        except KeyError:  # the parent was deleted from the workspace meanwhile
            return None

    def _reopen(self, run_id: str) -> Variant:
        """The unfinished run to continue: it must have a training state to resume from."""
        try:
            v = self.ws.get(run_id)
        except KeyError as exc:
            raise ValueError(f"no run {run_id!r} in {self.ws.root}") from exc
        if v.status in ("finished", "running"):
            raise ValueError(f"run {run_id} is {v.status}; only a cancelled, failed or crashed "
                             "run can be resumed")
        if not (self.ws.run_dir(run_id) / STATE_FILE).is_file():
            raise ValueError(
                f"run {run_id} has no {STATE_FILE}: set train.checkpoint_every in the recipe "
                "so a run can be resumed; this one has to be run again"
            )
        # read it now (weights only): an unreadable state is refused before the run is touched
        read_train_state(self.ws.run_dir(run_id) / STATE_FILE)
        self.parent_id = v.parent
        return self.ws.reopen(run_id)

    def _resolve_model_spec(self, spec: ModelSpec) -> ModelSpec:
        """`source: variant` becomes that variant's checkpoint folder (and its parent id).

        The trust to unpickle stays the one in the user's recipe: nothing stored in the
        workspace (a manifest, a recipe) can grant it.
        """
        if spec.source != "variant":
            return spec
        from engine.models.variant_source import resolve_variant  # the one path every page shares

        resolved, v = resolve_variant(spec, self.ws)
        self.parent_id = v.id
        return resolved
