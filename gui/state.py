"""AppState: the one object every page shares (current recipe, model, workspace).

Pages never talk to each other directly; they read and change this state and
listen to its signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.deploy.config import use_workspace
from engine.recipe import Recipe
from engine.store import Workspace


@dataclass
class ModelInfo:
    loaded: Any  # engine.models.types.LoadedModel
    summary: Any  # engine.models.summary.ModelSummary
    spec: Any = None  # the engine.recipe.ModelSpec it was loaded from
    variant: Any = None  # engine.store.Variant when the spec names a workspace variant
    parent: Any = None  # that variant's parent Variant (its card holds the parent's numbers)


class AppState(QObject):
    recipe_changed = Signal(object)  # Recipe
    workspace_changed = Signal(object)  # Workspace
    variants_changed = Signal()  # a run started/finished: re-read the store
    selected_variant_changed = Signal(str)  # run id
    model_loaded = Signal(object)  # ModelInfo, or None once the loaded model is not the recipe's
    navigate = Signal(str)  # page name: Model | Optimize | Run | Export | Compare

    def __init__(self, workspace: Workspace | str | Path, recipe: Recipe | None = None):
        super().__init__()
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        use_workspace(self.workspace.root)  # the forms accept this workspace's own targets
        self.recipe = recipe or Recipe()
        self.model_info: ModelInfo | None = None
        self.selected_variant: str | None = None

    def set_recipe(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.recipe_changed.emit(recipe)

    def set_workspace(self, path: str | Path) -> None:
        self.workspace = Workspace(path)
        use_workspace(self.workspace.root)
        self.workspace_changed.emit(self.workspace)
        self.variants_changed.emit()

    def set_model(self, info: ModelInfo | None) -> None:
        """Make `info` the loaded model (None: no model matches the recipe any more)."""
        self.model_info = info
        self.model_loaded.emit(info)

    def loaded_spec(self) -> Any:
        """The ModelSpec of the loaded model, or None."""
        return self.model_info.spec if self.model_info is not None else None

    def model_is_current(self) -> bool:
        """True when the loaded model is the one the current recipe names."""
        return self.loaded_spec() == self.recipe.model

    def select_variant(self, run_id: str) -> None:
        self.selected_variant = run_id
        self.selected_variant_changed.emit(run_id)
