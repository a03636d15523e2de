"""Words and modes of the Run page: durations, the one-line result, which sparsity views fit."""

from __future__ import annotations

from engine.metric_text import fmt_metric
from engine.recipe import Recipe
from engine.registry import entry_for_config
from engine.shrink_artifacts import FP32_KIND

# The job's stages (engine.stages.STAGES, plus the runner's "run" and the pipeline's "setup") as
# the Run page names them: the engine's names are short keys, not words for a progress line.
STAGE_TITLES = {
    "run": "starting",
    "load": "loading model and data",
    "setup": "registering the run",
    "baseline": "measuring the baseline",
    "methods": "applying the model steps",
    "train": "fine-tuning",
    "save": "saving",
    "export": "exporting to ONNX",
    "deploy": "quantizing & measuring files",
    "check": "checking the result",
}


def stage_title(stage: str, recipe: Recipe | None = None) -> str:
    """Readable name of a job stage ('deploy' -> 'quantizing & measuring files').

    Without a quantize step the deploy stage only measures the fp32 file, so it says that.
    """
    if stage == "deploy" and recipe is not None and not _has_artifact_step(recipe):
        return "measuring the ONNX file"
    return STAGE_TITLES.get(stage, stage)


def _has_artifact_step(recipe: Recipe) -> bool:
    for m in recipe.methods:
        try:
            if entry_for_config(m).stage == "artifact":
                return True
        except (KeyError, TypeError):  # unknown step: say the general words
            return True
    return False


LIVE_QUANTIZE_TYPES = ("int8_dynamic", "int8_static")  # steps that report node errors live


def live_quantize_steps(recipe: Recipe) -> list[tuple[int, str, str]]:
    """(1-based step, artifact kind, what it does) of each int8 step: the Run page's
    Quantization tab shows their calibration, per-node error and exclusion search."""
    out = []
    for i, m in enumerate(recipe.methods):
        try:
            entry = entry_for_config(m)
        except (KeyError, TypeError):
            continue
        if entry.type_name in LIVE_QUANTIZE_TYPES:
            label = entry.describe(m) if entry.describe else entry.label
            out.append((i + 1, "onnx-" + entry.type_name.replace("_", "-"), label))
    return out


def artifacts_text(card: dict) -> str:
    """'int8-dynamic file 1.0 MB, 1.08× fp32 speed, perplexity 6.10' for each quantized file."""
    parts = []
    for a in card.get("artifacts") or []:
        if not isinstance(a, dict) or a.get("kind") in (None, FP32_KIND):
            continue
        bits = [f"{str(a['kind']).removeprefix('onnx-')} file"]
        if isinstance(a.get("size_bytes"), (int, float)):
            bits[0] += f" {a['size_bytes'] / 1e6:.1f} MB"
        if isinstance(a.get("speedup_vs_fp32"), (int, float)):
            bits.append(f"{a['speedup_vs_fp32']:.2f}× fp32 speed")
        metrics = a.get("metrics") or {}
        name = next((n for n in ("accuracy", "perplexity") if isinstance(metrics.get(n), (int, float))), None)
        if name:
            bits.append(f"{name} {fmt_metric(name, metrics[name])}")
        parts.append(", ".join(bits))
    return "; ".join(parts)


def fmt_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min' ('' when unknown)."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def summary_text(summary: dict) -> str:
    """One line from a Finished summary: metrics, sparsity and ONNX latency."""
    parts = []
    for key, value in summary.items():
        if key.startswith("metrics.") and isinstance(value, (int, float)):
            name = key.split(".", 1)[1].replace("_", " ")
            parts.append(f"{name} {fmt_metric(name, value)}")
    sparsity = summary.get("sparsity.overall")
    if isinstance(sparsity, (int, float)) and sparsity > 0:  # 0 % says nothing (e.g. structured)
        parts.append(f"sparsity {sparsity:.1%}")
    latency = summary.get("onnx.latency_ms_p50")
    if isinstance(latency, (int, float)):
        parts.append(f"ONNX latency p50 {latency:.2f} ms")
    if summary.get("artifacts.text"):  # the quantized files, measured on themselves
        parts.append(str(summary["artifacts.text"]))
    return " · ".join(parts)


def card_summary(card: dict) -> dict:
    """The Finished-event summary shape from a variant card (the process runner has it already)."""
    if any(k.startswith("metrics.") for k in card):
        return card
    out = {f"metrics.{k}": v for k, v in (card.get("metrics") or {}).items()}
    out["sparsity.overall"] = (card.get("sparsity") or {}).get("overall")
    out["onnx.latency_ms_p50"] = (card.get("onnx") or {}).get("latency_ms_p50")
    out["artifacts.text"] = artifacts_text(card)
    return out


def sparsity_mode(recipe: Recipe) -> str:
    """Sparsity views that fit the recipe: "masks" (zeros to count), "structured" or "none"."""
    structured = False
    for m in recipe.methods:
        try:
            entry = entry_for_config(m)
        except (KeyError, TypeError):  # unknown step: show the views rather than hide data
            return "masks"
        if entry.effect == "masks":
            return "masks"
        if entry.effect == "smaller" and getattr(m, "shrinks_layers", True):
            structured = True  # layers shrink: no zeros, only what each layer lost
    return "structured" if structured else "none"
