"""The Optimize page's recipe files: Load / Save recipe, with the reason shown when one fails."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from engine.atomic_io import atomic_write_text
from engine.config_fields import ConfigError
from engine.recipe import Recipe

RECIPE_FILTER = "Recipes (*.yaml *.yml);;All files (*)"


class RecipeFileActions:
    """Mixin for OptimizePage: needs state, banner, name_edit, _problem and current_recipe()."""

    def save_recipe(self, path: str | Path) -> bool:
        """Write the edited recipe as YAML; False (with the reason shown) if it is invalid."""
        recipe, errors = self.current_recipe()
        if recipe is None:
            self._show_problem(f"not saved: {errors[0]}")
            return False
        try:  # atomic: a failed save (full disk) leaves the file that was there intact
            atomic_write_text(Path(path), recipe.to_yaml())
        except OSError as exc:
            self._show_problem(f"not saved: {path}: {exc.strerror or exc}")
            return False
        return True

    def load_recipe(self, path: str | Path) -> bool:
        """Read a recipe file into the forms and the state; False (reason shown) if it is bad."""
        try:
            recipe = Recipe.load(path)
        except (ConfigError, OSError) as exc:
            self._show_problem(f"could not load {Path(path).name}: {exc}")
            return False
        self.state.set_recipe(recipe)  # our recipe_changed handler fills the forms
        return True

    def _show_problem(self, text: str) -> None:
        self._problem = text[:1].upper() + text[1:]
        self.banner.set_status(self._problem, error=True)

    def choose_load(self) -> None:
        """Ask for a recipe file (starting in assets/recipes) and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Load recipe", _recipes_dir(), RECIPE_FILTER)
        if path:
            self.load_recipe(path)

    def choose_save(self) -> None:
        """Ask where to save the recipe (named after the variant) and save it."""
        default = str(Path(_recipes_dir()) / f"{self.name_edit.text().strip() or 'recipe'}.yaml")
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", default, RECIPE_FILTER)
        if path:
            self.save_recipe(path)


def _recipes_dir() -> str:
    here = Path(__file__).resolve().parents[2] / "assets" / "recipes"
    return str(here) if here.is_dir() else str(Path.cwd())
