"""Export a model (during a job, or a stored variant later) and check it in onnxruntime.

Parity is measured on held-out samples of the variant's own data when it has data,
else on random valid inputs, so the reported max |diff| reflects real inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from engine.data import load_data
from engine.export import ExportReport, export_and_check
from engine.export.isolated import export_and_check_isolated
from engine.export.progress import with_progress
from engine.models.loaders import load_model
from engine.models.text_adapter import TextAdapter
from engine.recipe import ExportConfig, ModelSpec, Recipe
from engine.store import Workspace


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


def export_variant(
    ws: Workspace,
    run_id: str,
    cfg: ExportConfig | None = None,
    log: Callable[[str], None] = print,
    trust: bool = False,
    isolate: bool = False,
) -> dict[str, Any]:
    """(Re-)export a stored variant into its run folder and update its card's `onnx`.

    `trust` (the user's, now) allows unpickling a checkpoint stored as a pickle; the
    recipe stored in the workspace never grants it. `isolate` exports in a child process
    (the GUI's event loop keeps the GIL).
    """
    v = ws.get(run_id)
    if v.status != "finished":
        raise ValueError(f"variant {run_id} is {v.status}; only finished variants can be exported")
    if v.missing:
        raise ValueError(f"variant {v.name} ({run_id}) cannot be exported: {v.missing}")
    recipe = Recipe.from_yaml(v.recipe).untrusted()
    cfg = cfg or recipe.export
    folder = ws.run_dir(run_id)
    ckpt = folder / "checkpoint"
    model = recipe.model
    if ckpt.is_dir():  # the class of a pickled custom module is found on the recipe's path
        model = ModelSpec(source="checkpoint", path=str(ckpt), python_path=model.python_path)
    loaded = load_model(dataclasses.replace(model, trust=trust))
    data = None
    if recipe.data.source != "none" and loaded.task in ("causal-lm", "classification"):
        data = load_data(recipe.data, loaded)
    report = export_loaded(loaded, data, folder / "model.onnx", cfg, log, isolate=isolate)
    card = dict(v.card)
    card["onnx"] = report.to_dict()
    ws.finish(run_id, card)
    return card["onnx"]
