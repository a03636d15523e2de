"""`workbench-cli inspect MODEL_OR_RECIPE`: a model's anatomy without running a job.

Parameters, bytes, FLOPs of one forward (at a stated input shape), a table per layer type,
the task, the inputs and the tokenizer. MODEL is a file or folder (its source inferred as
the Model page does), a built-in name, or a recipe .yaml whose model section is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError
from engine.model_files import infer_source
from engine.recipe import ModelSpec, Recipe

OTHER_OPS = "(ops outside these layers)"
# the recipe fields a load error may name, and this command's flag for each
FLAGS = {"model.task": "--task", "model.num_labels": "--num-labels",
         "model.input_shape": "--input-shape", "model.trust": "--trust"}
DEFAULT_SEQ = 128  # tokens per example for text models' FLOPs: a typical short input


def _stored_variant(target: str, args: argparse.Namespace) -> Any:
    """The finished variant `target` names in the command's workspace (none is made), or None."""
    from engine.cli.profile_cmd import _variant
    from engine.store import existing_workspace

    return _variant(target, existing_workspace(getattr(args, "workspace", None)))


def spec_for(target: str, args: argparse.Namespace) -> ModelSpec:
    """The ModelSpec a command-line target names, with the command's overrides applied."""
    from engine.models.builtin import BUILTIN_MODELS

    path = Path(target).expanduser()
    if path.suffix.lower() in (".yaml", ".yml"):
        from engine.data.head_size import size_head_from_data

        recipe = Recipe.load(path)
        spec = size_head_from_data(recipe.model, recipe.data)
    elif path.exists():
        try:
            source = infer_source(path)
        except ValueError as exc:  # the picker's wording, plus what this command also takes
            raise ValueError(f"{exc}, or a recipe .yaml") from None
        spec = ModelSpec(source=source, path=str(path))
    elif target.strip() in BUILTIN_MODELS:
        spec = ModelSpec(source="builtin", path=target.strip())
    elif (v := _stored_variant(target, args)) is not None:  # the Model page's Variant menu
        spec = ModelSpec(source="variant", path=v.id)
    else:
        raise ValueError(f"{target}: no such file or folder, and not a built-in model "
                         f"({', '.join(BUILTIN_MODELS)}); give a model file or folder, "
                         "a recipe .yaml, or a built-in name")
    changes: dict[str, Any] = {}
    if args.trust:
        changes["trust"] = True
    if args.input_shape:
        changes["input_shape"] = args.input_shape
    if args.num_labels:
        changes["num_labels"] = args.num_labels
    if args.task:
        changes["task"] = args.task
    return dataclasses.replace(spec, **changes) if changes else spec


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,32,32' or '[1, 3, 32, 32]' -> (1, 3, 32, 32) (argparse type)."""
    try:
        dims = tuple(int(d) for d in text.strip("[]() ").replace(" ", "").split(",") if d)
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1,3,32,32")
    return dims


def _tokenizer_text(loaded: Any) -> str:
    """What tokenizer the model brings, in words."""
    tok = loaded.tokenizer
    if tok is None:
        return "none" if loaded.is_text else "none (not a text model)"
    inner = getattr(tok, "tok", tok)
    return f"{type(inner).__name__}, vocabulary {getattr(tok, 'vocab_size', '?'):,}"


def anatomy(spec: ModelSpec, seq: int, workspace: Any = None) -> dict[str, Any]:
    """Load the model and measure it: the JSON `inspect --json` prints."""
    from engine.models.loaders import load_model
    from engine.models.summary import summarize

    loaded = load_model(spec, workspace)
    inputs = loaded.example_inputs(batch=1, seq=seq)
    summary = summarize(loaded.module, inputs)
    types: dict[str, dict[str, Any]] = {}
    for row in summary.layers:
        kind = row.type.split(" (tied", 1)[0]
        t = types.setdefault(kind, {"type": kind, "modules": 0, "params": 0, "bytes": 0, "flops": 0})
        t["modules"] += 1
        t["params"] += row.params
        t["bytes"] += row.bytes
        t["flops"] += row.flops
    for t in types.values():
        t["share"] = t["params"] / summary.total_params if summary.total_params else 0.0
    rest = summary.total_flops - sum(t["flops"] for t in types.values())
    if rest > 0:  # e.g. attention's matmuls and softmax, which no parameter-holding layer owns
        types[OTHER_OPS] = {"type": OTHER_OPS, "modules": 0, "params": 0, "bytes": 0,
                            "flops": rest, "share": 0.0}
    return {
        "model": loaded.description,
        "source": f"{spec.source}:{spec.path}",
        "task": loaded.task,
        "num_labels": loaded.num_labels,
        "label_names": loaded.label_names,
        "inputs": [{"name": n, "shape": list(x.shape), "dtype": str(x.dtype).removeprefix("torch.")}
                   for n, x in zip(loaded.input_names, inputs, strict=False)],
        "tokenizer": _tokenizer_text(loaded),
        "max_positions": loaded.max_positions if loaded.is_text else None,
        "params": summary.total_params,
        "nonzero_params": summary.nonzero_params,
        "bytes": summary.total_bytes,
        "flops": summary.total_flops,
        "flops_input_shape": list(inputs[0].shape),
        "layer_types": sorted(types.values(), key=lambda t: -t["params"]),
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def anatomy_text(info: dict[str, Any]) -> str:
    """The anatomy as a few lines and a per-layer-type table."""
    from engine.estimate import fmt_count

    shape = "x".join(str(d) for d in info["flops_input_shape"])
    inputs = ", ".join(f"{i['name']} {list(i['shape'])} {i['dtype']}" for i in info["inputs"])
    flops = f"{fmt_count(info['flops'])} FLOPs" if info["flops"] else "not countable (e.g. TorchScript)"
    task = info["task"]
    if info["num_labels"]:
        names = f": {', '.join(info['label_names'])}" if info["label_names"] else ""
        task += f", {info['num_labels']} classes{names}"
    lines = [
        f"model:      {info['model']}",
        f"source:     {info['source']}",
        f"task:       {task}",
        f"inputs:     {inputs}",
        f"tokenizer:  {info['tokenizer']}",
        f"parameters: {info['params']:,} ({fmt_count(info['params'])}; "
        f"{info['nonzero_params']:,} non-zero)",
        f"size:       {_mb(info['bytes'])} (parameters and buffers, as loaded)",
        f"FLOPs:      {flops} per forward at input shape [{shape.replace('x', ', ')}]",
        "",
        f"{'layer type':<28} {'modules':>7} {'params':>10} {'share':>6} {'size':>10} {'FLOPs':>9}",
    ]
    for t in info["layer_types"]:
        lines.append(f"{t['type'][:28]:<28} {t['modules']:>7} {fmt_count(t['params']):>10} "
                     f"{t['share']:>6.1%} {_mb(t['bytes']):>10} {fmt_count(t['flops']):>9}")
    return "\n".join(lines)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print a model's anatomy (or --json) without running a job; bad input exits 2."""
    spec = spec_for(args.target, args)
    workspace = None
    if spec.source == "variant":
        from engine.store import Workspace, default_workspace

        workspace = Workspace(args.workspace or default_workspace())
    try:
        info = anatomy(spec, args.seq, workspace)
    except ConfigError as exc:  # name this command's flag for the recipe field the error names
        flags = sorted({flag for field, flag in FLAGS.items() if field in str(exc)})
        if not flags or args.target.lower().endswith((".yaml", ".yml")):
            raise
        raise ValueError(f"{exc} (here: {' / '.join(flags)})") from exc
    print(json.dumps(info, indent=2) if args.json else anatomy_text(info))
    return 0


def add_inspect_command(sub: argparse._SubParsersAction) -> None:
    """Add the `inspect` sub-command."""
    from engine.recipe import TASKS

    ins = sub.add_parser(
        "inspect", help="a model's anatomy (parameters, bytes, FLOPs, layer types) without a job"
    )
    ins.add_argument("target", help="model file or folder, built-in name, recipe .yaml, or a "
                     "finished variant (id or name) of the workspace")
    ins.add_argument("--json", action="store_true", help="print the anatomy as JSON")
    ins.add_argument("--seq", type=int, default=DEFAULT_SEQ,
                     help=f"tokens per example for a text model's FLOPs (default {DEFAULT_SEQ})")
    ins.add_argument("--input-shape", type=parse_shape,
                     help="example input shape of a generic model, e.g. 1,3,32,32")
    ins.add_argument("--task", choices=TASKS, help="what the model's logits mean (default: auto)")
    ins.add_argument("--num-labels", type=int, help="classes, for a folder without a head")
    ins.add_argument("--trust", action="store_true",
                     help="allow unpickling a torch.save module (only files you made yourself)")
    ins.add_argument("--workspace", "-w", type=Path, help="workspace, for a variant's recipe")
    ins.set_defaults(func=cmd_inspect)
