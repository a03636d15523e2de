"""`workbench-cli check RECIPE`: what the recipe's steps will do to its model, before a run.

Loads the model (nothing is trained or written), checks every step the way a run does, and
prints the estimate step by step with its notes: what will be done differently from what was
asked (heads rounded to whole key/value groups under grouped-query attention) and risky
choices (magnitude importance on a causal LM). Exit 0 when the recipe can run, 2 when not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.config_fields import ConfigError


def check_text(recipe_path: Path, workspace: Path | None = None) -> tuple[str, bool]:
    """(the report, whether the recipe can run); bad input raises ConfigError/ValueError."""
    from engine.estimate import estimate_steps, fmt_count
    from engine.models import load_model
    from engine.recipe import Recipe
    from engine.registry import check_methods

    recipe = Recipe.load(recipe_path)
    from engine.deploy.config import use_workspace
    from engine.store import default_workspace

    use_workspace(workspace or default_workspace())  # deploy.targets may name its own
    recipe.validate()
    ws = None
    if recipe.model.source == "variant" or workspace is not None:
        from engine.store import Workspace, default_workspace

        ws = Workspace(workspace or default_workspace())
    loaded = load_model(recipe.model, ws)
    from engine.script_refusal import torchscript_problems  # TorchScript: refused as a run is

    problems = torchscript_problems(recipe.methods, recipe.train.epochs, loaded.module)
    problems = problems or check_methods(recipe.methods, loaded.module)
    from engine.train.strategy_pipeline import model_parallel_problems

    problems += model_parallel_problems(recipe.train, loaded.module)  # split points vs its blocks
    from engine.config_fields import FieldError

    for i, cfg in enumerate(recipe.methods if not problems else ()):  # a teacher, as a run does
        hook = getattr(cfg, "load_problems", None)
        found = hook(loaded, lambda spec: load_model(spec, ws)) if hook is not None else []
        problems += [FieldError(f"methods[{i}].{name}", message) for name, message in found]
    from engine.data.fit import data_fits_model

    misfit = data_fits_model(recipe.data, loaded)  # what a run's data loading would refuse
    if misfit:
        field = "model.tokenizer" if "tokenizer" in misfit else "data"
        problems = [*problems, FieldError(field, misfit)]
    if problems:
        raise ConfigError(problems)
    has_data = recipe.data.source != "none"
    est = estimate_steps(loaded.module, recipe.methods, loaded.example_inputs(), loaded.task,
                         has_data)  # fmt: skip
    lines = [f"model: {loaded.description}", f"data:  {recipe.data.source if has_data else 'none'}"]
    for step in est.steps:
        if step.error:
            lines.append(f"{step.label}: cannot be applied here: {step.error}")
            continue
        lines.append(f"{step.label}: {fmt_count(step.params)} parameters after it"
                     + (f", {step.sparsity:.1%} of the masked layers zero" if step.sparsity else ""))
        lines += [f"  note: {n}" for n in step.notes]
    ok = not any(s.error for s in est.steps)
    lines.append(est.text() if ok else "cannot run: fix the step above")
    return "\n".join(lines), ok


def cmd_check(args: argparse.Namespace) -> int:
    """Print the recipe's step-by-step estimate and notes; exit 2 when a step cannot run.
    With --target: check a variant's deployable files against that deployment target."""
    if args.target:
        from engine.cli.target_cmds import cmd_check_target

        return cmd_check_target(args)
    text, ok = check_text(args.recipe, args.workspace)
    print(text)
    return 0 if ok else 2


def add_check_command(sub: argparse._SubParsersAction) -> None:
    """Add the `check` sub-command."""
    ch = sub.add_parser(
        "check", help="load a recipe's model and say what each step will do, without a run; "
        "with --target, check a variant's ONNX files against a deployment target"
    )
    ch.add_argument("recipe", type=Path, help="a recipe file; with --target, a variant id or name")
    ch.add_argument("--target", help="deployment target (workbench-cli targets lists them): "
                    "exit 0 when every requirement passes, 1 when one fails, 2 on bad input")
    ch.add_argument("--json", action="store_true", help="with --target: the results as JSON")
    ch.add_argument("--workspace", "-w", type=Path, help="workspace, for a variant model")
    ch.set_defaults(func=cmd_check)
