"""run_profile: where a model's time, memory and energy go, as one JSON-able record.

Parts, in order (each reports progress and stops at a cancel/pause checkpoint between them):
the machine's measured peaks; the PyTorch model's time per layer and per operator type with
FLOPs, bytes and a compute/memory verdict per layer and group; its memory; each ONNX file
under onnxruntime's profiler; latency over the batch x sequence grid; energy and cost. The
record's keys are the #12 contract (schema 1); profile_store saves it with the variant.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config_fields import ConfigError, config_from_dict, option, validate_config

SCHEMA = 1
Artifact = tuple[str, str | Path]  # (kind, e.g. "onnx-fp32" / "onnx-int8", file path)


@dataclass(frozen=True)
class ProfileConfig:
    """What a profile measures and how long it takes (a few runs by default: seconds)."""

    batch: int = option(1, min=1, max=4096, help="samples per forward for the per-layer profile")
    seq: int = option(64, min=1, max=65536, label="Sequence length",
                      help="tokens per sample for text models (capped at the model's maximum)")
    runs: int = option(5, min=1, max=1000, help="timed forwards per measurement (the faster half averaged: "
                      "interruptions by other work left out)")
    threads: int = option(0, min=0, max=256,
                          help="CPU threads for PyTorch and onnxruntime (0: the usable cores, "
                          "at most 8)")
    kv_context: int = option(0, min=0, max=1_000_000, label="KV-cache context",
                             help="context length for the KV-cache size of a causal LM "
                             "(0: the model's maximum positions)")
    kv_batch: int = option(1, min=1, max=4096, label="KV-cache batch", help="sequences held at once for the KV-cache size")
    sweep_batches: tuple[int, ...] = option((1, 8), label="Curve batches", help="batch sizes of the latency curves")
    sweep_seqs: tuple[int, ...] = option((32, 128), label="Curve lengths", help="sequence lengths of the latency curves")
    sweep_runs: int = option(10, min=1, max=1000, advanced=True,
                             help="timed rounds per cell of the latency grid")
    price_per_hour: float = option(0.0, min=0.0, max=1e6,
                                   help="what the machine costs per hour, for the cost per "
                                   "million inferences (0: 0.40 on CPU, 3.00 with a GPU)")
    cpu_watts: float = option(8.0, label="CPU watts per core", min=0.0, max=10_000.0, min_exclusive=True,
                              help="estimate only, when no power counter is readable: watts "
                              "per busy CPU core (a GPU without NVML: 300 W for the board)")
    energy_seconds: float = option(1.0, min=0.05, max=600.0, advanced=True,
                                   help="how long the energy reading runs the model (power "
                                   "counters tick every few ms)")

    def extra_checks(self) -> list[tuple[str, str]]:
        """The grid's values are sizes: each at least 1."""
        out = []
        for name in ("sweep_batches", "sweep_seqs"):
            values = getattr(self, name)
            if not values:
                out.append((name, "needs at least one value, e.g. [1, 8]"))
            elif any(v < 1 for v in values):
                out.append((name, f"every value must be at least 1, got {list(values)}"))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ProfileConfig:
        """A validated config from a mapping; ConfigError naming `profile.<field>` otherwise."""
        cfg = config_from_dict(cls, data, "profile")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        errors = validate_config(self, "profile")
        if errors:
            raise ConfigError(errors)


def _noop_ctx() -> Any:
    from engine.context import JobContext, JobControl

    return JobContext(lambda _event: None, JobControl())


def torch_parts(loaded: Any, cfg: ProfileConfig, threads: int, ctx: Any) -> dict[str, Any]:
    """machine, layers, groups, op_types, whole_ms, memory and the model line (PyTorch side)."""
    from engine.analysis.machine_peak import machine_peak, torch_threads
    from engine.analysis.profile_memory import memory_record
    from engine.analysis.profile_torch import device_of, layer_rows, op_types
    from engine.analysis.roofline import summarize_groups
    from engine.export.runtime import eval_mode

    module = loaded.module
    device = device_of(module)
    inputs = tuple(t.to(device) for t in loaded.example_inputs(batch=cfg.batch, seq=cfg.seq))
    ctx.progress(0.0, "measuring this machine's matmul and memory-copy peaks")
    machine = machine_peak(device, threads)
    ridge = machine["ridge_flops_per_byte"]
    ctx.checkpoint()
    with torch_threads(threads), eval_mode(module):
        ctx.progress(0.2, "timing every layer")
        measured = layer_rows(module, inputs, cfg.runs, ridge, ctx.checkpoint)
        ctx.checkpoint()
        ctx.progress(0.6, "timing operator types (torch.profiler)")
        ops = op_types(module, inputs, cfg.runs)
        ctx.checkpoint()
        ctx.progress(0.8, "measuring memory")
        context = cfg.kv_context or int(getattr(loaded, "max_positions", 0) or 0)
        memory = memory_record(module, inputs, loaded.task, context, cfg.kv_batch)
    return {
        "model": {"description": loaded.description, "task": loaded.task,
                  "params": sum(p.numel() for p in module.parameters()),
                  "flops": measured["flops"]},
        "settings": {"batch": cfg.batch, "seq": int(inputs[0].shape[1]) if loaded.is_text else None,
                     "device": str(device), "threads": threads, "runs": cfg.runs},
        "machine": machine,
        "layers": measured["layers"],
        "groups": summarize_groups(measured["layers"], ridge),
        "op_types": ops,
        "whole_ms": measured["whole_ms"],
        "memory": memory,
    }  # fmt: skip


def onnx_part(loaded: Any, cfg: ProfileConfig, threads: int, artifacts: Sequence[Artifact],
              ctx: Any) -> list[dict[str, Any]]:
    """Each ONNX file under onnxruntime's profiler at the profile's batch and seq."""
    from engine.analysis.profile_onnx import profile_onnx
    from engine.export.runtime import describe_ort_error

    inputs = loaded.example_inputs(batch=cfg.batch, seq=cfg.seq)
    out = []
    for i, (kind, path) in enumerate(artifacts):
        ctx.checkpoint()
        ctx.progress(i / max(1, len(artifacts)), f"onnxruntime profile of {kind}")
        try:
            out.append(profile_onnx(path, inputs, runs=cfg.runs, threads=threads, artifact=kind,
                                    input_names=loaded.input_names))
        except Exception as exc:  # one unreadable file must not lose the rest of the profile
            ctx.log(f"{kind}: not profiled, onnxruntime cannot run {path}: "
                    f"{describe_ort_error(exc)}", "warning")
    return out


def latency_part(loaded: Any, cfg: ProfileConfig, threads: int, artifacts: Sequence[Artifact],
                 ctx: Any) -> list[dict[str, Any]]:
    """p50/p95 and samples/s over the batch x seq grid, PyTorch against every ONNX file."""
    from engine.analysis.latency_sweep import PYTORCH, SweepContext, latency_sweep

    runners: dict[str, Any] = {PYTORCH: loaded, **{kind: Path(p) for kind, p in artifacts}}
    sweep = SweepContext(loaded=loaded, threads=threads, log=ctx.log, progress=ctx.progress,
                         checkpoint=ctx.checkpoint)  # fmt: skip
    return latency_sweep(runners, cfg.sweep_batches, cfg.sweep_seqs, cfg.sweep_runs, sweep)


def energy_part(loaded: Any, cfg: ProfileConfig, threads: int, artifacts: Sequence[Artifact],
                ctx: Any) -> list[dict[str, Any]]:
    """Energy per inference and cost per million, PyTorch and each ONNX file, at cfg.batch."""
    from engine.analysis.energy import energy_reading
    from engine.analysis.latency_sweep import PYTORCH, onnx_call, torch_call
    from engine.analysis.machine_peak import torch_threads
    from engine.analysis.profile_torch import device_of
    from engine.export.runtime import describe_ort_error, eval_mode
    from engine.export.side_by_side import timing_session

    inputs = loaded.example_inputs(batch=cfg.batch, seq=cfg.seq)
    device = device_of(loaded.module).type
    calls: dict[str, Callable[[], Any]] = {PYTORCH: torch_call(loaded.module, inputs)}
    devices = {PYTORCH: device}
    for kind, path in artifacts:
        try:
            session = timing_session(path, threads)
        except Exception as exc:
            ctx.log(f"{kind}: no energy reading: {describe_ort_error(exc)}", "warning")
            continue
        calls[kind] = onnx_call(session, loaded.input_names, inputs)
        # the GPU's power meter for a file onnxruntime runs there, else the CPU's
        devices[kind] = "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"
    out = []
    with torch_threads(threads), eval_mode(loaded.module):
        for i, (name, call) in enumerate(calls.items()):
            ctx.checkpoint()
            ctx.progress(i / len(calls), f"energy of {name}")
            dev = devices[name]
            try:
                out.append(energy_reading(name, call, cfg.runs, batch=cfg.batch, device=dev,
                                          watts=cfg.cpu_watts if dev == "cpu" else None,
                                          price_per_hour=cfg.price_per_hour or None,
                                          min_seconds=cfg.energy_seconds))  # fmt: skip
            except Exception as exc:  # e.g. a file exported with a fixed batch: the rest stands
                if name == PYTORCH:
                    raise
                ctx.log(f"{name}: no energy reading at batch {cfg.batch}: "
                        f"{describe_ort_error(exc)}", "warning")
    return out


PARTS: tuple[tuple[str, Callable[..., list[dict[str, Any]]], float, float], ...] = (
    ("onnx", onnx_part, 0.45, 0.6),
    ("latency", latency_part, 0.6, 0.85),
    ("energy", energy_part, 0.85, 1.0),
)


def run_profile(loaded: Any, cfg: ProfileConfig | None = None, ctx: Any = None,
                artifacts: Sequence[Artifact] = ()) -> dict[str, Any]:
    """The profile record of a LoadedModel (and its ONNX files): the #12 contract's keys."""
    from engine.export.side_by_side import resolve_threads

    cfg = cfg or ProfileConfig()
    cfg.validate()
    ctx = ctx or _noop_ctx()
    threads = resolve_threads(cfg.threads or None)
    artifacts = [(str(kind), Path(path)) for kind, path in artifacts]
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record: dict[str, Any] = {"schema": SCHEMA, "created": created}
    record.update(torch_parts(loaded, cfg, threads, ctx.sub(0.0, 0.45)))
    for key, part, start, end in PARTS:
        ctx.checkpoint()
        record[key] = part(loaded, cfg, threads, artifacts, ctx.sub(start, end))
    ctx.progress(1.0, "profile done")
    return record
