"""The profile record as a few readable blocks: slowest layers, groups, memory, ONNX, latency, energy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _count(n: float | None) -> str:
    from engine.estimate import fmt_count

    return fmt_count(int(n)) if n else "0"


def _num(x: float | None, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def _header(r: Mapping[str, Any]) -> list[str]:
    m, s, mc = r["model"], r["settings"], r["machine"]
    seq = f" x seq {s['seq']}" if s.get("seq") else ""
    gflops = r["model"]["flops"] / (r["whole_ms"] * 1e6) if r.get("whole_ms") else 0.0
    layers_ms = sum(row["time_ms"] for row in r["layers"])
    peak = mc.get("matmul_gflops") or 0.0
    frac = f" = {gflops / peak:.0%} of the matmul peak" if peak else ""
    return [
        f"model:    {m['description']} ({m['task']}, {_count(m['params'])} params, "
        f"{_count(m['flops'])} FLOPs per forward)",
        f"settings: batch {s['batch']}{seq} on {s['device']}, {s['threads']} "
        f"thread{'s' if s['threads'] != 1 else ''}, {s['runs']} runs",
        f"machine:  {mc['cpu']}; matmul {_num(mc['matmul_gflops'])} GFLOP/s, copy "
        f"{_num(mc['copy_gbps'])} GB/s, ridge {_num(mc['ridge_flops_per_byte'])} flop/byte",
        f"whole:    {r['whole_ms']:.3f} ms per forward (the layers sum to {layers_ms:.3f} ms, "
        f"{layers_ms / r['whole_ms'] if r.get('whole_ms') else 0:.0%} of it); "
        f"{gflops:.3g} GFLOP/s achieved{frac}",
    ]


def _layers(r: Mapping[str, Any], top: int) -> list[str]:
    lines = ["", f"{'slowest layers':<42} {'type':<20} {'group':<9} {'ms':>8} {'share':>6} "
             f"{'FLOPs':>8} {'MB moved':>9} {'flop/B':>7} {'GFLOP/s':>8}  bound"]  # fmt: skip
    for row in r["layers"][: max(0, top)]:
        name = row["name"] if len(row["name"]) <= 42 else "…" + row["name"][-41:]
        lines.append(f"{name:<42} {row['type'][:20]:<20} {row['group']:<9} {row['time_ms']:>8.3f} "
                     f"{row['share']:>6.1%} {_count(row['flops']):>8} "
                     f"{row['bytes_moved'] / 1e6:>9.2f} {_num(row['intensity']):>7} "
                     f"{_num(row['gflops']):>8}  {row['bound']}")  # fmt: skip
    if len(r["layers"]) > top:
        lines.append(f"({len(r['layers']) - top} more layers; --top N or --json for all)")
    return lines


def _memory(r: Mapping[str, Any]) -> list[str]:
    mem = r["memory"]
    lines = ["", f"memory:   parameters {mem['params_mb']:.2f} MB, buffers {mem['buffers_mb']:.2f} MB, "
             f"peak activations of one batch {mem['activation_peak_mb']:.2f} MB "
             f"({'CUDA max_memory_allocated' if mem['peak_source'] == 'cuda' else 'torch.profiler'})"]
    kv = mem.get("kv_cache")
    if kv:
        lines.append(f"KV cache: {kv['mb']:.2f} MB at context {kv['context']} x batch {kv['batch']} "
                     f"(2 x {kv['layers']} layers x {kv['heads']} heads x {kv['head_dim']} dims "
                     f"x {kv['dtype_bytes']} bytes per token)")
    elif r["model"]["task"] == "causal-lm":
        lines.append("KV cache: not known (no transformers config or built-in blocks to read "
                     "the layers and heads from)")
    else:
        lines.append("KV cache: none (not a causal language model)")
    return lines


def _onnx_latency_energy(r: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for entry in r.get("onnx") or []:
        ops = ", ".join(f"{o['op']} {o['time_ms']:.3f} ms" for o in entry["op_types"][:4])
        lines.append(f"onnx {entry['artifact']}: {entry['whole_ms']:.3f} ms per run; top ops: {ops}")
    if r.get("latency"):
        lines += ["", f"{'latency':<20} {'batch':>5} {'seq':>5} {'p50 ms':>9} {'p95 ms':>9} "
                  f"{'samples/s':>10}"]
        for row in r["latency"]:
            lines.append(f"{row['artifact'][:20]:<20} {row['batch']:>5} {row['seq'] or '-':>5} "
                         f"{row['p50_ms']:>9.3f} {row['p95_ms']:>9.3f} {row['samples_per_s']:>10.1f}")
    for e in r.get("energy") or []:
        lines.append(f"energy {e['artifact']}: {e['joules_per_inference'] * 1e3:.3g} mJ per inference "
                     f"at {e['watts']:.3g} W ({e['label']}, {e['source']}); "
                     f"{e['cost_per_million']:.4g} per million at {e['price_per_hour']:g}/hour")
    return [""] + lines if lines and lines[0] else lines


def profile_text(record: Mapping[str, Any], top: int = 10) -> str:
    """The summary `workbench-cli profile` prints."""
    lines = _header(record) + _layers(record, top) + [""]
    lines += [g["verdict"] for g in record["groups"]]
    ops = record.get("op_types") or []
    if ops:
        lines += ["", "operator types (PyTorch, self time per forward): " + ", ".join(
            f"{o['op'].removeprefix('aten::')} {o['time_ms']:.3f} ms x{o['count']}" for o in ops[:8])]
    return "\n".join(lines + _memory(record) + _onnx_latency_energy(record))
