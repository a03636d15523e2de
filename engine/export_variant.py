"""Export a model (during a job, or a stored variant later) and check it in onnxruntime.

Parity is measured on held-out samples of the variant's own data when it has data,
else on random valid inputs, so the reported max |diff| reflects real inputs.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from engine.context import JobContext, JobControl
from engine.data import load_data
from engine.export import ExportReport, export_and_check
from engine.export.isolated import export_and_check_isolated
from engine.export.onnx_export import commit_staged
from engine.export.progress import with_progress
from engine.models.loaders import load_model
from engine.models.text_adapter import TextAdapter
from engine.recipe import ExportConfig, ModelSpec, Recipe
from engine.store import Variant, Workspace

# who re-exported, as the card's history names it: the same record from either front end
EXPORT_VERBS = {"cli": "workbench-cli export", "gui": "Export page: Export / re-export",
                "api": "engine.export_variant"}


def export_loaded(
    loaded: Any,
    data: Any,
    path: Path,
    cfg: ExportConfig,
    log: Callable[[str], None] = lambda m: None,
    isolate: bool = False,
    checkpoint: Callable[[], None] = lambda: None,
    progress: Callable[[float, str], None] | None = None,
) -> ExportReport:
    """Export `loaded.module` to `path`, then checker, parity and latency.

    `isolate` runs the export in a child process (a GUI keeps its GIL); `checkpoint`
    is polled while waiting for it (a cancel ends the child); `progress(fraction, message)`
    hears as the export, checker, parity and latency steps pass.
    """
    if progress is not None:
        log = with_progress(log, progress)
    parity: list[tuple[torch.Tensor, ...]] = []
    if data is not None:
        for i, batch in enumerate(DataLoader(data.val, batch_size=8)):
            if i >= cfg.parity_batches:
                break
            parity.append((batch["input_ids"], batch["attention_mask"]))
    if not parity:
        parity = [loaded.example_inputs(batch=2) for _ in range(cfg.parity_batches)]
    seq = min(cfg.latency_seq, loaded.max_positions)
    latency_inputs = loaded.example_inputs(batch=cfg.latency_batch, seq=seq)
    module, names, example = loaded.module, loaded.input_names, loaded.example_inputs(
        batch=2, seq=min(16, seq)
    )
    if isinstance(module, TextAdapter) and module.ids_only:  # one ONNX input: input_ids
        names, example = names[:1], example[:1]
        parity = [p[:1] for p in parity]
        latency_inputs = latency_inputs[:1]
    if isinstance(module, TextAdapter) and isinstance(module.inner, torch.jit.ScriptModule):
        module = module.inner  # the exporters take TorchScript whole, not inside a Python module
    run = partial(export_and_check_isolated, checkpoint=checkpoint) if isolate else export_and_check
    report = run(
        module.cpu().eval(), names, example, parity, latency_inputs, path, cfg, log=log
    )
    log(
        f"ONNX: {report.size_bytes / 1e6:.2f} MB, checker {'ok' if report.checker_ok else 'FAILED'}, "
        f"max|diff| {report.max_abs_diff:.2e}, p50 {report.latency_ms_p50:.2f} ms"
        if report.max_abs_diff is not None and report.latency_ms_p50 is not None
        else f"ONNX written: {report.path}"
    )
    return report


def exportable(ws: Workspace, name_or_id: str) -> Variant:
    """The finished variant `name_or_id` names, with its files; ValueError saying what is wrong."""
    try:
        v = ws.one(name_or_id.strip())
    except KeyError:
        raise ValueError(f"no variant named or numbered {name_or_id!r} in workspace {ws.root} "
                         "(workbench-cli list shows them)") from None
    if v.status != "finished":
        raise ValueError(f"variant {v.name} ({v.id}) is {v.status}; only finished variants can "
                         "be exported (run its recipe again, or resume it)")
    if v.missing:
        raise ValueError(f"variant {v.name} ({v.id}) cannot be exported: {v.missing}")
    return v


def _load_stored(ws: Workspace, v: Variant, trust: bool) -> tuple[Any, Any, Recipe]:
    """(LoadedModel, data or None, recipe) of a stored variant: its checkpoint, else its recipe's model."""
    recipe = Recipe.from_yaml(v.recipe).untrusted()  # the stored recipe never grants trust
    ckpt = ws.run_dir(v.id) / "checkpoint"
    model = recipe.model
    if ckpt.is_dir():  # the class of a pickled custom module is found on the recipe's path
        model = ModelSpec(source="checkpoint", path=str(ckpt), python_path=model.python_path)
    loaded = load_model(dataclasses.replace(model, trust=trust))
    data = None
    if recipe.data.source != "none" and loaded.task in ("causal-lm", "classification"):
        data = load_data(recipe.data, loaded)
    return loaded, data, recipe


def export_variant(
    ws: Workspace,
    run_id: str,
    cfg: ExportConfig | None = None,
    log: Callable[[str], None] | None = None,
    trust: bool = False,
    isolate: bool = False,
    ctx: JobContext | None = None,
    by: str = "api",
) -> dict[str, Any]:
    """(Re-)export a stored variant into its run folder; update its card's `onnx` and `history`.

    The new file is written and checked in a staging folder and moved over model.onnx only
    once it passed, so a cancel (`ctx.control.cancel()`, polled while a child process
    exports) or a failure leaves the previous file and card as they were. `trust` (the
    user's, now) allows unpickling a pickled checkpoint; `isolate` exports in a child
    process; `by` ("cli" / "gui") is recorded with the history entry.
    """
    # log lines: `log` when given, else the context's Log events, else (a plain call) print
    say = log or (ctx.log if ctx is not None else print)
    ctx = ctx or JobContext(lambda event: None, JobControl())  # nobody cancels a plain call
    v = exportable(ws, run_id)
    ctx.progress(0.0, f"loading {v.name}")
    loaded, data, recipe = _load_stored(ws, v, trust)
    ctx.checkpoint()
    folder = ws.run_dir(v.id)
    staging = Path(tempfile.mkdtemp(prefix=".reexport-", suffix=".tmp", dir=folder))  # .*.tmp: litter cleanup clears it
    try:
        report = export_loaded(
            loaded, data, staging / "model.onnx", cfg or recipe.export, say, isolate=isolate,
            checkpoint=ctx.checkpoint, progress=lambda f, m: ctx.progress(0.1 + 0.85 * f, m),
        )  # fmt: skip
        ctx.checkpoint()  # the last moment a cancel keeps the old file: from here on, commit
        commit_staged(staging, folder / "model.onnx")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    onnx = {**report.to_dict(), "path": str(folder / "model.onnx")}
    card = dict(ws.get(v.id).card)  # re-read: another page may have written it meanwhile
    card["onnx"] = onnx
    card["history"] = [*(card.get("history") or []), history_entry("export", by, onnx)]
    ws.finish(v.id, card)
    ctx.progress(1.0, "card updated")
    return onnx


def history_entry(action: str, by: str, onnx: dict[str, Any]) -> dict[str, Any]:
    """One line of a card's history: what was done, when, by which front end and verb."""
    return {
        "action": action,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "by": by,
        "verb": EXPORT_VERBS.get(by, by),
        **{k: onnx.get(k) for k in ("size_bytes", "latency_ms_p50", "max_abs_diff", "exporter")},
    }


def history_lines(card: dict[str, Any]) -> list[str]:
    """The card's history as lines for `workbench-cli show`: what, when, by which verb."""
    return [f"{h.get('action')}: {str(h.get('at'))[:19].replace('T', ' ')} by {h.get('verb')}"
            for h in card.get("history") or [] if isinstance(h, dict)]
