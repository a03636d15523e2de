"""check_artifact: a deployable ONNX file against a target profile, requirement by requirement.

Every figure is measured on this machine: the file's size, the peak memory of a session
running one batch (a child process's resident-set high-water mark), the graph's int8 weights
and opset, latency and throughput with onnxruntime's intra-op threads set to the target's
cores, the execution provider, and ORT Mobile's .ort conversion and NNAPI/CoreML operator
support. When the target is another device class (edge, mobile) the speed figures are a
proxy measured here, and the result says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort

from engine.deploy.feeds import synthetic_feeds
from engine.deploy.mobile import EP_LABELS, ep_support, ort_conversion
from engine.deploy.requirements import (
    int8_req,
    memory_req,
    opset_req,
    quantized_facts,
    req,
    size_req,
)
from engine.deploy.targets import TargetProfile
from engine.export.runtime import describe_ort_error
from engine.export.side_by_side import percentiles, resolve_threads, time_rounds

DEFAULT_RUNS = 20


def _session(path: Path, target: TargetProfile, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 4
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = [target.execution_provider] + (
        ["CPUExecutionProvider"] if target.execution_provider != "CPUExecutionProvider" else [])
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


def _p50_ms(path: Path, sess: ort.InferenceSession, batch: int, seq: int, threads: int,
            runs: int) -> float:
    feeds = synthetic_feeds(sess.get_inputs(), batch, seq)
    rounds = time_rounds({"f": path}, feeds, runs=runs, threads=threads, sessions={"f": sess})
    return percentiles(rounds["f"])[0]


def speed_reqs(path: Path, target: TargetProfile, threads: int, runs: int) -> list[dict[str, Any]]:
    """Latency budget and throughput goal, measured with the target's thread count."""
    out: list[dict[str, Any]] = []
    try:
        sess = _session(path, target, threads)
    except Exception as exc:  # onnxruntime raises plain Exceptions
        return [req("runs in onnxruntime", False, None, None, "",
                    f"onnxruntime cannot load it: {describe_ort_error(exc)}")]
    where = f"with {threads} threads" + (" on this machine (proxy)" if target.proxy else "")
    if target.latency_budget_ms:
        b, s, limit = target.latency_batch, target.latency_seq, target.latency_budget_ms
        ms = _p50_ms(path, sess, b, s, threads, runs)
        out.append(req("latency p50", ms <= limit, round(ms, 3), limit, "ms",
                       f"p50 {ms:.1f} ms > {limit:g} ms at {b}x{s} {where}: quantize to int8, "
                       "prune, or shorten the sequence"))
    if target.min_throughput:
        b, s, goal = target.throughput_batch, target.latency_seq, target.min_throughput
        rate = b / (_p50_ms(path, sess, b, s, threads, max(3, runs // 2)) / 1000)
        out.append(req("throughput", rate >= goal, round(rate, 1), goal, "samples/s",
                       f"{rate:.0f} samples/s < {goal:g} at batch {b}x{s} {where}: quantize "
                       "to int8, prune, or serve larger batches"))
    return out


def provider_req(target: TargetProfile) -> dict[str, Any]:
    have = ort.get_available_providers()
    ep = target.execution_provider
    return req("execution provider", ep in have, ep if ep in have else "missing", ep, "",
               f"this onnxruntime has no {ep} (it has {', '.join(have)}): install "
               "onnxruntime-gpu and check on a machine with a CUDA GPU")


def mobile_reqs(path: Path, target: TargetProfile) -> list[dict[str, Any]]:
    """.ort conversion, then the operators each listed accelerator cannot run, by name."""
    out: list[dict[str, Any]] = []
    if target.ort_mobile:
        conv = ort_conversion(path)
        out.append(req(".ort conversion", conv["ok"], round(conv["ort_mb"], 3) if conv["ok"]
                       else "failed", "converts", "MB" if conv["ok"] else "",
                       f".ort conversion failed: {conv['message']}"))
    if target.mobile_eps:
        try:
            support = ep_support(path, target.mobile_eps)
        except Exception as exc:  # the checker's own graph optimization failed
            return out + [req("mobile usability", False, None, None, "",
                              f"usability check failed: {describe_ort_error(exc)}")]
        for ep, info in support.items():
            ops = info["unsupported"]
            out.append(req(f"{EP_LABELS[ep]} operators", not ops,
                           f"{info['supported_nodes']}/{info['nodes']} nodes supported", "all",
                           "", f"{EP_LABELS[ep]} cannot run {', '.join(ops)}: those nodes fall "
                           f"back to the CPU in {info['partitions']} partitions; replace those "
                           "operators or run on the CPU execution provider"))
    return out


def check_artifact(
    onnx_path: str | Path, target: TargetProfile, *, artifact: str | None = None,
    runs: int = DEFAULT_RUNS, measure_speed: bool = True,
) -> dict[str, Any]:
    """{target, artifact, path, passed, proxy, threads, requirements: [{name, passed, measured,
    limit, unit, reason}]}: every requirement the target sets, measured on this file."""
    path = Path(onnx_path)
    threads = resolve_threads(target.threads)
    nodes, weights = quantized_facts(path)
    int8 = nodes > 0 and weights > 0
    reqs: list[dict[str, Any]] = []
    if target.max_size_mb:
        reqs.append(size_req(path, target, int8))
    if target.require_int8:
        reqs.append(int8_req(nodes, weights))
    if target.max_opset:
        reqs.append(opset_req(path, target))
    gpu_missing = False
    if target.execution_provider != "CPUExecutionProvider":
        reqs.append(provider_req(target))
        gpu_missing = not reqs[-1]["passed"]  # no speed figures without the provider
    if target.max_peak_memory_mb:
        reqs.append(memory_req(path, target, threads, int8))
    speed = measure_speed and not gpu_missing and (target.latency_budget_ms or target.min_throughput)
    if speed:
        reqs += speed_reqs(path, target, threads, runs)
    reqs += mobile_reqs(path, target)
    return {"target": target.name, "artifact": artifact or path.name, "path": str(path),
            "passed": all(r["passed"] for r in reqs), "proxy": bool(target.proxy and speed),
            "threads": threads, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "requirements": reqs}


def deployable_files(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, path) of every deployable file on a card: its artifacts, else its fp32 export."""
    files = [(str(a.get("kind")), str(a["path"])) for a in card.get("artifacts") or []
             if a.get("path") and not a.get("error")]
    onnx = card.get("onnx") or {}
    if not files and onnx.get("path"):
        files = [("onnx-fp32", str(onnx["path"]))]
    return files


def check_card(card: Mapping[str, Any], targets: Sequence[TargetProfile],
               log: Callable[[str], None] = lambda _m: None) -> list[dict[str, Any]]:
    """check_artifact for every deployable file on the card against every target."""
    results = []
    for target in targets:
        for kind, path in deployable_files(card):
            if not Path(path).is_file():
                results.append({"target": target.name, "artifact": kind, "path": path,
                                "passed": False, "proxy": False, "requirements": [
                                    req("file", False, None, None, "", f"{path} is missing")]})
                continue
            res = check_artifact(path, target, artifact=kind)
            failed = [r["name"] for r in res["requirements"] if not r["passed"]]
            log(f"{kind} on {target.name}: " + ("passes" if not failed else
                                                 "fails " + ", ".join(failed)))
            results.append(res)
    return results


def run_target_checks(card: Mapping[str, Any], names: Sequence[str], workspace: Any = None,
                      log: Callable[[str], None] = lambda _m: None) -> list[dict[str, Any]]:
    """check_card for targets named in a recipe's deploy.targets (the job's workspace's too);
    a name no target file defines, or a bad target file, is a failed entry saying why."""
    from engine.config_fields import ConfigError
    from engine.deploy.targets import get_target

    targets, failed = [], []
    for name in names:
        try:
            targets.append(get_target(name, workspace))
        except ConfigError as exc:
            failed.append({"target": name, "artifact": "-", "path": "", "passed": False,
                           "proxy": False, "requirements": [req("target", False, None, None, "",
                                                                str(exc))]})
    if targets and not deployable_files(card):  # export.enabled: false
        return failed + [{"target": t.name, "artifact": "-", "path": "", "passed": False,
                          "proxy": False, "requirements": [req(
                              "ONNX file", False, None, None, "", "no ONNX file to check: "
                              "enable the export (export.enabled: true)")]} for t in targets]
    return failed + check_card(card, targets, log)


def save_target_checks(workspace: Any, run_id: str, results: Sequence[dict[str, Any]]) -> None:
    """Put `results` on a finished variant's card, replacing earlier checks on their targets."""
    v = workspace.get(run_id)
    if v.status != "finished":
        raise ValueError(f"variant {run_id} is {v.status}; only a finished variant's card is kept")
    names = {r.get("target") for r in results}
    card = dict(v.card)
    card["target_checks"] = [r for r in card.get("target_checks") or []
                             if r.get("target") not in names] + list(results)
    workspace.finish(run_id, card)  # the card and report.json, as a re-export updates them
