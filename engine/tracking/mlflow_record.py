"""What a run sends to MLflow, as plain data: params, final numbers, files (no mlflow import).

Params are the recipe as the run recorded it (runs/<id>/recipe.yaml, every field with its
default filled in, so runs compare column by column), flattened to dotted keys. The final
numbers come from the card (report.json): model size and parameters, the latency and the
metrics of the exported file, and each artifact's measured numbers under artifact/<kind>/.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

PARAM_VALUE_CHARS = 500  # what every MLflow server accepts (newer ones take 6000)
CARD_FILE = "report.json"
RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.jsonl"
ERROR_FILE = "error.txt"
# per artifact file on the card: the numbers worth a column in MLflow
ARTIFACT_NUMBERS = ("size_bytes", "zip_bytes", "latency_ms_p50", "latency_ms_p95",
                    "max_abs_diff", "top1_agreement", "cosine", "speedup_vs_fp32",
                    "speedup_vs_parent")  # fmt: skip


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}, "m": [{"t": "x"}]} -> {"a.b": "1", "m.0.t": "x"}; scalars as text."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            out.update(flatten(value, f"{prefix}.{i}"))
    elif prefix:
        text = json.dumps(data) if isinstance(data, (list, tuple)) else str(data)
        out[prefix] = text[:PARAM_VALUE_CHARS]
    return out


def recipe_params(path: Path) -> dict[str, str]:
    """The recipe file's fields, defaults included, as MLflow params (plus `methods`, the step
    types in order). A file that no longer parses as a recipe gives its raw fields."""
    from engine.config_fields import ConfigError
    from engine.recipe import Recipe
    from engine.safe_yaml import bounded_safe_load

    text = path.read_text(encoding="utf-8")
    try:
        data = Recipe.from_yaml(text, str(path)).to_dict(full=True)
    except ConfigError:
        data = bounded_safe_load(text)
        data = data if isinstance(data, dict) else {}
    params = flatten({k: v for k, v in data.items() if k != "notes"})
    steps = data.get("methods") or []
    params["methods"] = ", ".join(str(s.get("type")) for s in steps if isinstance(s, dict)) or "none"
    return params


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def card_metrics(card: dict[str, Any]) -> dict[str, float]:
    """The card's final numbers as MLflow metric names -> values (finite numbers only)."""
    model, onnx = card.get("model") or {}, card.get("onnx") or {}
    train = card.get("train") or {}
    picks = {
        "card/params": model.get("params"),
        "card/nonzero_params": model.get("nonzero_params"),
        "card/size_bytes": model.get("size_bytes"),
        "card/flops": model.get("flops"),
        "card/sparsity": (card.get("sparsity") or {}).get("overall"),
        "card/onnx_size_bytes": onnx.get("size_bytes"),
        "card/onnx_zip_bytes": onnx.get("zip_bytes"),
        "card/latency_ms_p50": onnx.get("latency_ms_p50"),
        "card/latency_ms_p95": onnx.get("latency_ms_p95"),
        "card/train_seconds": train.get("seconds"),
        "card/train_samples_per_s": train.get("samples_per_s"),
    }
    for name, value in (card.get("metrics") or {}).items():
        picks[f"card/{name}"] = value
    for art in card.get("artifacts") or []:
        if not isinstance(art, dict) or not art.get("kind"):
            continue
        head = f"artifact/{art['kind']}"
        picks.update({f"{head}/{key}": art.get(key) for key in ARTIFACT_NUMBERS})
        for name, value in (art.get("metrics") or {}).items():
            picks[f"{head}/{name}"] = value
    return {k: n for k, v in picks.items() if (n := _number(v)) is not None}


def read_card(folder: Path) -> dict[str, Any]:
    """The run's card, or {} when the run ended without one (failed, cancelled)."""
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def onnx_files(card: dict[str, Any]) -> list[Path]:
    """Every ONNX file the card lists (each artifact's path; external weights beside it)."""
    out: list[Path] = []
    paths = [a.get("path") for a in card.get("artifacts") or [] if isinstance(a, dict)]
    paths.append((card.get("onnx") or {}).get("path"))
    for text in paths:
        if not text:
            continue
        path = Path(text)
        for candidate in (path, path.with_name(path.name + ".data")):
            if candidate.is_file() and candidate not in out:
                out.append(candidate)
    return out


def run_files(folder: Path, card: dict[str, Any], onnx: bool) -> list[tuple[Path, str | None]]:
    """(file, folder in the MLflow run) to upload: recipe, card, metrics log, error text; the
    ONNX files (under onnx/) only when asked, as they can be large."""
    files: list[tuple[Path, str | None]] = [
        (folder / name, None) for name in (RECIPE_FILE, CARD_FILE, METRICS_FILE, ERROR_FILE)
        if (folder / name).is_file()
    ]
    if onnx:
        files += [(path, "onnx") for path in onnx_files(card)]
    return files
