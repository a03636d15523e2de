"""ExportError and the one-line messages built from exporter tracebacks."""

from __future__ import annotations

import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OP_OVERLOAD = re.compile(r"<OpOverload\(op='([^']+)', overload='([^']+)'\)>")
_MAX_REASON = 180


class ExportError(RuntimeError):
    """A model that could not be exported; str() is one line saying why and what to try.

    The exporters' own exceptions stay reachable: the first one is chained as
    `__cause__`, and all of them are in `attempts` as (exporter name, exception).
    """

    def __init__(self, message: str, attempts: list[tuple[str, BaseException]] | None = None):
        super().__init__(message)
        self.attempts = attempts or []


class BrokenExport(RuntimeError):
    """An exporter wrote a graph that does not behave like the module; the message says how."""


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
    return seen


def first_line(text: str) -> str:
    """The first non-blank line without terminal colour codes, shortened to fit a log line."""
    text = _ANSI.sub("", text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


def one_line_reason(exc: BaseException) -> str:
    """The root cause of `exc` as 'Type: first line', since exporter wrappers say little."""
    if isinstance(exc, BrokenExport):  # our own summary already names the cause
        return f"{type(exc).__name__}: {first_line(str(exc))}"
    # The dynamo exporter wraps the real problem (a TypeError, an unsupported op) in
    # several layers of generic "step 1/3 failed" text; the innermost one is the news.
    for inner in reversed(exception_chain(exc)):
        line = first_line(str(inner))
        if line:
            line = _OP_OVERLOAD.sub(r"\1.\2", line)
            return f"{type(inner).__name__}: {line}"
    return type(exc).__name__


_UNSUPPORTED_OP = re.compile(
    r"No ONNX function found|is not supported|Unsupported|not implemented|NOT_IMPLEMENTED",
    re.IGNORECASE,
)
_OP_NAME = re.compile(r"((?:aten|prim)(?:\.|::)\w+(?:\.\w+)*)")
_SIGNATURE = re.compile(
    r"positional argument|unexpected keyword|required positional|too many positional|"
    r"missing a required argument|forward\(\)",
    re.IGNORECASE,
)
_DATA_DEPENDENT = re.compile(
    r"data-dependent|data dependent|GuardOnDataDependent|Constraints violated|specializ"
    r"|came out fixed",
    re.IGNORECASE,
)


_DTYPE = re.compile(
    r"expected scalar type|BFloat16|\bHalf\b|bfloat16|float16|unexpected tensor scalar type"
    r"|dtype mismatch|same dtype",
    re.IGNORECASE,
)
_HALF_WORDS = (("bfloat16", "bfloat16"), ("BFloat16", "bfloat16"), ("float16", "float16"),
               ("Half", "float16"))


def half_dtype_in(module: Any) -> str | None:
    """'bfloat16' / 'float16' when the module holds half-precision parameters or buffers."""
    import torch

    tensors = [*module.parameters(), *module.buffers()] if module is not None else []
    for t in tensors:
        if t.dtype in (torch.bfloat16, torch.float16):
            return str(t.dtype).removeprefix("torch.")
    return None


def dtype_hint(reasons: str, module: Any = None) -> str:
    """The one line for an export that failed on a tensor's dtype ('' when it did not)."""
    half = half_dtype_in(module)
    if half is None and _DTYPE.search(reasons):
        half = next((name for word, name in _HALF_WORDS if word in reasons), None)
        if half is None:  # a dtype clash without a half-precision tensor named
            return ("export failed on a tensor's dtype: the model mixes dtypes; load it with "
                    "model.dtype: float32 (the default) or make forward use one dtype")
    if half is None:
        return ""
    return (f"export failed on a {half} tensor: load with model.dtype: float32 (the default), "
            "which converts half-precision weights, or convert the model with .float() first")


def export_hint(reasons: str, opset: int) -> str:
    """What to try next, guessed from the exporters' combined reasons."""
    if "ScriptModule is not supported" in reasons:  # dynamo refused it; the other failed too
        op = _OP_NAME.search(reasons)
        what = f" ({op.group(1)})" if op else ""
        return (
            f"this scripted TorchScript module's code{what} has no ONNX form: save it with "
            "torch.jit.trace instead of torch.jit.script, or load the Python module "
            "(model.source: torch with model.trust) so it can be traced"
        )
    if _SIGNATURE.search(reasons):
        return (
            "model forward must take positional tensors (input_ids, attention_mask, or one "
            "input) and return a tensor or an output with .logits"
        )
    if _UNSUPPORTED_OP.search(reasons):
        op = _OP_NAME.search(reasons)
        what = f"op {op.group(1)}" if op else "an op"
        return (
            f"{what} has no ONNX translation at opset {opset}: raise or lower export.opset "
            "(13-23) or replace that op in the model"
        )
    if _DATA_DEPENDENT.search(reasons):
        return (
            "forward must not branch on tensor values (.item(), Python if on tensors) or fix "
            "the batch/sequence size; make it shape-generic"
        )
    return "try another export.opset; forward must take positional tensors and return logits"


def failure_message(
    model_name: str, attempts: list[tuple[str, BaseException]], opset: int, module: Any = None
) -> str:
    """One line naming each exporter's root cause and a suggestion.

    A half-precision tensor in `module` (or a dtype named in the reasons) is the cause to
    name first: the exporters' own errors then point at an op, which misleads.
    """
    reasons = "; ".join(f"{name}: {one_line_reason(exc)}" for name, exc in attempts)
    dtype = dtype_hint(reasons, module)
    if dtype:
        return f"ONNX export of {model_name}: {dtype} ({reasons})"
    # the advice first: a run's failure line is cut at a few hundred characters
    return f"ONNX export of {model_name} failed: {export_hint(reasons, opset)} ({reasons})"
