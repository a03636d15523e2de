"""`workbench-cli profile TARGET`: where a model's time, memory and energy go.

TARGET is a variant (id or name) in the workspace: its saved model and the ONNX files on
its card are profiled and the record is stored as runs/<id>/profile.json. Or it is a model
file or folder, a built-in name or a recipe .yaml (as `inspect` takes them): profiled and
printed, nothing stored. `--json` prints the record; bad input is one line, exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError
from engine.store import existing_workspace

# ProfileConfig field -> this command's flag (the rest are the field name with dashes)
_FLAG_FIELDS = ("batch", "seq", "runs", "threads", "kv_context", "kv_batch", "sweep_batches",
                "sweep_seqs", "sweep_runs", "price_per_hour", "cpu_watts", "energy_seconds")


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def profile_config(args: argparse.Namespace) -> Any:
    """The ProfileConfig the flags give (unset flags keep its defaults); errors name the flag."""
    from engine.analysis.profile import ProfileConfig

    given = {f: getattr(args, f) for f in _FLAG_FIELDS if getattr(args, f, None) is not None}
    try:
        return ProfileConfig.from_dict(given)
    except ConfigError as exc:
        raise ValueError("; ".join(f"{_flag(e.path.split('.', 1)[-1])}: {e.message}"
                                   for e in exc.errors)) from None  # fmt: skip


def _sizes(text: str) -> tuple[int, ...]:
    """'1,8,32' -> (1, 8, 32) (argparse type)."""
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers like 1,8")
    return values


def _variant(target: str, ws: Any) -> Any:
    """The finished variant `target` names in `ws`, or None when it names none."""
    if ws is None:
        return None
    try:
        return ws.resolve(target.strip())
    except KeyError:
        return None


def card_artifacts(ws: Any, v: Any, log: Any = print) -> list[tuple[str, Path]]:
    """(kind, file) of every ONNX file on a variant's card that is still in its run folder."""
    folder = Path(ws.run_dir(v.id))
    entries = [{"kind": "onnx-fp32", **(v.card.get("onnx") or {})}]
    entries += [a for a in v.card.get("artifacts") or [] if isinstance(a, dict)]
    out: dict[str, tuple[str, Path]] = {}
    for entry in entries:
        if not entry.get("path"):
            continue
        path = folder / Path(entry["path"]).name  # the folder may have moved with its workspace
        if not path.is_file():
            log(f"{entry.get('kind')}: {path} is missing, not profiled")
        elif path.name not in out:
            out[path.name] = (str(entry.get("kind") or path.stem), path)
    return list(out.values())


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(LoadedModel, variant or None, workspace or None) for the command's target."""
    from engine.cli.anatomy import spec_for
    from engine.models.loaders import load_model

    target = args.target
    ws = None if Path(target).expanduser().exists() else existing_workspace(args.workspace)
    v = _variant(target, ws)
    if v is not None:
        from engine.models.variant_source import load_variant
        from engine.recipe import ModelSpec

        return load_variant(ModelSpec(source="variant", path=v.id, trust=args.trust), ws), v, ws
    from engine.models.builtin import BUILTIN_MODELS

    if ws is not None and target.strip() not in BUILTIN_MODELS and not target.endswith(
            (".yaml", ".yml")):
        raise ValueError(f"{target}: no finished variant of that name or id in {ws.root}, no "
                         "such file or folder, and not a built-in model "
                         f"({', '.join(BUILTIN_MODELS)}); workbench-cli list shows the variants")
    spec = spec_for(target, args)
    return load_model(spec, existing_workspace(args.workspace) if spec.source == "variant" else None), None, None


def cmd_profile(args: argparse.Namespace) -> int:
    """Profile the target, print the summary (or --json), store it with a variant."""
    import sys

    from engine.analysis.profile import run_profile
    from engine.analysis.profile_store import save_profile
    from engine.atomic_io import strict_json
    from engine.cli.profile_text import profile_text

    cfg = profile_config(args)
    try:
        loaded, v, ws = _load(args)
    except ConfigError as exc:  # name this command's flag for the recipe field the error names
        from engine.cli.anatomy import FLAGS

        flags = sorted({flag for field, flag in FLAGS.items() if field in str(exc)})
        if not flags or args.target.lower().endswith((".yaml", ".yml")):
            raise
        raise ValueError(f"{exc} (here: {' / '.join(flags)})") from exc
    artifacts = card_artifacts(ws, v, lambda m: print(m, file=sys.stderr)) if v is not None else []
    record = run_profile(loaded, cfg, _stderr_context(args.json), artifacts)
    stored = save_profile(ws, v.id, record) if v is not None else None
    print(strict_json(record, indent=2) if args.json else profile_text(record, args.top))
    if stored is not None and not args.json:
        print(f"stored: {stored}")
    return 0


def _stderr_context(quiet: bool) -> Any:
    """A JobContext whose log lines (skipped files, cells) go to stderr; progress is not shown."""
    import sys

    from engine.context import JobContext, JobControl
    from engine.events import Log

    def emit(event: Any) -> None:
        if isinstance(event, Log) and not quiet:
            print(f"{event.level}: {event.message}", file=sys.stderr)

    return JobContext(emit, JobControl())


def add_profile_command(sub: argparse._SubParsersAction) -> None:
    """Add the `profile` sub-command."""
    from engine.cli.anatomy import parse_shape
    from engine.recipe import TASKS

    pr = sub.add_parser("profile", help="where a model's time, memory and energy go: per layer, "
                        "per operator, compute- or memory-bound, KV cache, latency, energy")
    pr.add_argument("target", help="variant id or name (stored with it), or a model file or "
                    "folder, built-in name or recipe .yaml (printed only)")
    pr.add_argument("--json", action="store_true", help="print the profile record as JSON")
    pr.add_argument("--top", type=int, default=10, help="slowest layers listed (default 10)")
    pr.add_argument("--batch", type=int, help="samples per forward (default 1)")
    pr.add_argument("--seq", type=int, help="tokens per sample of a text model (default 64)")
    pr.add_argument("--runs", type=int, help="timed forwards per measurement (default 5)")
    pr.add_argument("--threads", type=int, help="CPU threads (default: usable cores, at most 8)")
    pr.add_argument("--kv-context", type=int, help="KV-cache context length (default: the "
                    "model's maximum positions)")
    pr.add_argument("--kv-batch", type=int, help="sequences in the KV cache (default 1)")
    pr.add_argument("--sweep-batches", type=_sizes, help="latency grid batches, e.g. 1,8")
    pr.add_argument("--sweep-seqs", type=_sizes, help="latency grid sequence lengths, e.g. 32,128")
    pr.add_argument("--sweep-runs", type=int, help="timed rounds per latency cell (default 10)")
    pr.add_argument("--price-per-hour", type=float,
                    help="machine price per hour (default 0.40 on CPU, 3.00 on a GPU)")
    pr.add_argument("--cpu-watts", type=float, help="estimate: watts per busy core (default 8)")
    pr.add_argument("--energy-seconds", type=float, help="energy reading length (default 1 s)")
    pr.add_argument("--input-shape", type=parse_shape, help="example input of a generic model")
    pr.add_argument("--task", choices=TASKS, help="what the model's logits mean (default: auto)")
    pr.add_argument("--num-labels", type=int, help="classes, for a folder without a head")
    pr.add_argument("--trust", action="store_true",
                    help="allow unpickling a torch.save module (only files you made yourself)")
    pr.add_argument("--workspace", "-w", type=Path, help="workspace holding the variant")
    pr.set_defaults(func=cmd_profile)
