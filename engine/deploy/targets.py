"""Deployment target profiles: what a device class asks of a deployable ONNX file.

Shipped profiles live in assets/targets/*.yaml; a workspace may add its own (or replace a
shipped one by name) in <workspace>/targets/*.yaml. Every limit is optional: a profile checks
only what it sets. The files are read with the bounded YAML loader and validated like a
recipe section, so a bad file is refused with one line naming the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.config_fields import ConfigError, FieldError, config_from_dict, option, validate_config
from engine.safe_yaml import YamlTooLarge, bounded_safe_load

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "assets" / "targets"
KINDS = ("server-cpu", "server-gpu", "mobile", "edge")
PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider")
MOBILE_EPS = ("nnapi", "coreml")
MAX_FILE_BYTES = 64 * 1024  # a target is a dozen settings
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class TargetProfile:
    """One device class and the limits a deployable file must meet on it."""

    name: str = option("", help="the target's name, as recipes (deploy.targets) and "
                       "`workbench-cli check --target` refer to it")
    description: str = option("", help="one line saying what device class this is")
    kind: str = option("server-cpu", choices=KINDS,
                       help="device class: decides which checks apply (CUDA provider for "
                       "server-gpu, .ort conversion and NNAPI/CoreML ops for mobile)")
    execution_provider: str = option(
        "CPUExecutionProvider", choices=PROVIDERS,
        help="onnxruntime execution provider the file must run on; CUDA is checked against "
        "onnxruntime.get_available_providers() and fails without it")
    threads: int | None = option(
        None, min=1, max=256,
        help="cores of the target: latency and throughput are measured with this many "
        "onnxruntime intra-op threads (none: this machine's cores)")
    proxy: bool = option(
        False, help="the target is another machine: latency measured here (threads limited to "
        "its cores) is only a stand-in and is labelled proxy")
    max_size_mb: float | None = option(
        None, min=0.0, min_exclusive=True,
        help="checks the file (with its external data) is at most this many MB on disk")
    max_peak_memory_mb: float | None = option(
        None, min=0.0, min_exclusive=True,
        help="checks the peak memory of an onnxruntime session loading the file and running "
        "one batch (resident-set growth, measured in a child process) is at most this many MB")
    require_int8: bool = option(
        False, help="checks the graph carries int8 weights (QLinear*/MatMulInteger/"
        "DequantizeLinear/MatMulNBits nodes); an fp32 or fp16 file fails")
    max_opset: int | None = option(
        None, min=7, max=30, help="checks the file's ai.onnx opset is at most this (the "
        "newest opset the target's runtime implements)")
    latency_budget_ms: float | None = option(
        None, min=0.0, min_exclusive=True,
        help="checks the median latency of one batch (latency_batch x latency_seq) is at most "
        "this many ms, measured with `threads` threads")
    latency_batch: int = option(1, min=1, max=1024, help="batch size the latency budget is "
                                "measured at (and peak memory)")
    latency_seq: int = option(64, min=1, max=8192, help="sequence length latency, throughput "
                              "and peak memory are measured at (text models)")
    min_throughput: float | None = option(
        None, min=0.0, min_exclusive=True,
        help="checks samples per second at throughput_batch (with `threads` threads) is at "
        "least this")
    throughput_batch: int = option(8, min=1, max=4096, help="batch size throughput is "
                                   "measured at")
    ort_mobile: bool = option(
        False, help="checks the file converts to ORT's mobile format (.ort) with "
        "onnxruntime.tools.convert_onnx_models_to_ort")
    mobile_eps: tuple[str, ...] = option(
        (), help="mobile accelerators whose operator support is checked (nnapi, coreml): "
        "every operator they cannot run is named")
    power_watts: float | None = option(
        None, min=0.0, min_exclusive=True,
        help="typical power draw of the device under load; used for energy estimates where "
        "it cannot be measured")

    def extra_checks(self) -> list[tuple[str, str]]:
        if not _NAME.match(self.name):
            return [("name", f"must be 1-64 letters, digits, '-', '_' or '.', got {self.name!r}")]
        bad = [e for e in self.mobile_eps if e not in MOBILE_EPS]
        if bad:
            return [("mobile_eps", f"unknown accelerator {bad[0]!r}; known: {', '.join(MOBILE_EPS)}")]
        return []

    def limits_text(self) -> str:
        """The limits in one line, for `workbench-cli targets` and the GUI picker."""
        parts = [self.kind, f"{self.threads} threads" if self.threads else "all cores"]
        if self.execution_provider != "CPUExecutionProvider":
            parts.append(self.execution_provider)
        if self.max_size_mb:
            parts.append(f"size <= {self.max_size_mb:g} MB")
        if self.max_peak_memory_mb:
            parts.append(f"peak memory <= {self.max_peak_memory_mb:g} MB")
        if self.require_int8:
            parts.append("int8 required")
        if self.max_opset:
            parts.append(f"opset <= {self.max_opset}")
        if self.latency_budget_ms:
            parts.append(f"p50 <= {self.latency_budget_ms:g} ms at {self.latency_batch}x"
                         f"{self.latency_seq}" + (" (proxy)" if self.proxy else ""))
        if self.min_throughput:
            parts.append(f">= {self.min_throughput:g} samples/s at batch {self.throughput_batch}")
        if self.ort_mobile:
            parts.append(".ort conversion")
        if self.mobile_eps:
            parts.append("ops for " + "/".join(self.mobile_eps))
        return ", ".join(parts)


def _bad(path: Path, message: str) -> ConfigError:
    """One line naming the file, then the field: '<file>: target.max_size_mb: must be ...'."""
    return ConfigError([FieldError(str(path), message)])


def _read(path: Path) -> str:
    """The file's text, refusing huge, binary and non-UTF-8 files by name."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _bad(path, f"is {size:,} bytes; a target file is at most "
                              f"{MAX_FILE_BYTES:,}")
        raw = path.read_bytes()
    except OSError as exc:
        raise _bad(path, f"cannot be read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad(path, "is not UTF-8 text; save it as UTF-8") from None


def load_target_file(path: str | Path) -> TargetProfile:
    """One target file; ConfigError with one line naming the file and the field."""
    p = Path(path)
    try:
        data = bounded_safe_load(_read(p))
    except YamlTooLarge as exc:
        raise _bad(p, f"{exc}; it is refused unread") from None
    except yaml.YAMLError as exc:
        raise _bad(p, f"is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise _bad(p, "must be a mapping of settings, e.g. name: edge, kind: edge")
    data.setdefault("name", p.stem)
    try:
        target = config_from_dict(TargetProfile, data, "target")
        errors = validate_config(target, "target")
    except ConfigError as exc:
        errors = exc.errors
    if errors:
        raise _bad(p, f"{errors[0]}")
    if target.name != p.stem:
        raise _bad(p, f"target.name: {target.name!r} differs from the file name; "
                          f"name the file {target.name}.yaml")
    return target


def target_files(workspace: str | Path | None = None) -> dict[str, Path]:
    """{name: file} of the shipped targets, then the workspace's (which replace them by name)."""
    dirs = [SHIPPED_DIR] + ([Path(workspace) / "targets"] if workspace is not None else [])
    found: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for f in sorted(d.glob("*.yaml")):
                found[f.stem] = f
    return found


def known_target_names(workspace: str | Path | None = None) -> list[str]:
    """Names of every target a recipe or the CLI may use (shipped and the workspace's)."""
    return sorted(target_files(workspace))


def load_targets(workspace: str | Path | None = None) -> dict[str, TargetProfile]:
    """Every known target by name; a bad file raises ConfigError naming it."""
    return {name: load_target_file(f) for name, f in target_files(workspace).items()}


def get_target(name: str, workspace: str | Path | None = None) -> TargetProfile:
    """The target called `name`; ConfigError listing the known ones when there is none."""
    files = target_files(workspace)
    if name not in files:
        raise ConfigError([FieldError("--target", f"unknown target {name!r}; known: "
                                      f"{', '.join(sorted(files))}")])
    return load_target_file(files[name])


def check_target_names(names: tuple[str, ...], path: str,
                       workspace: str | Path | None = None) -> list[FieldError]:
    """A FieldError per name in `names` that no target file defines, listing the known ones."""
    if not names:  # most recipes: no folder listing on every validation (forms validate per key)
        return []
    known = known_target_names(workspace)
    own = f" (a target of your own: {Path(workspace) / 'targets'}/<name>.yaml)" if workspace else ""
    return [FieldError(f"{path}[{i}]", f"unknown target {n!r}; known: {', '.join(known)}{own}")
            for i, n in enumerate(names) if n not in known]
