"""Checking an exported model: onnx.checker, size on disk, onnxruntime parity and latency."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import Tensor, nn

from engine.export.errors import first_line


# -- torch side ------------------------------------------------------------------------
@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then restore each one's own previous mode."""
    # Restoring per submodule (not module.train(prev)) keeps deliberately frozen
    # parts, e.g. an eval-mode teacher inside a training model, as they were.
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training


def logits_of(out: Any) -> Tensor:
    """The logits tensor of a forward's output: a tensor, `.logits`, a dict or a tuple."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping):  # includes Hugging Face ModelOutput
        return logits_of(out["logits"] if "logits" in out else next(iter(out.values())))
    if hasattr(out, "logits"):
        return logits_of(out.logits)
    if isinstance(out, (tuple, list)) and out:
        return logits_of(out[0])
    raise TypeError(f"model output {type(out).__name__} holds no logits tensor")


def module_device(module: nn.Module) -> torch.device:
    """The device of the module's first parameter or buffer (CPU when it has none)."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def torch_logits(module: nn.Module, inputs: Sequence[Tensor]) -> np.ndarray:
    """Run the module in eval mode without grad; logits as a float32 numpy array."""
    device = module_device(module)
    with eval_mode(module), torch.no_grad():
        out = logits_of(module(*(t.to(device) for t in inputs)))
    return out.detach().float().cpu().numpy()


# -- onnxruntime side ------------------------------------------------------------------
def ort_providers() -> list[str]:
    """CUDA first when both onnxruntime and torch can use it, else CPU only."""
    if "CUDAExecutionProvider" in ort.get_available_providers() and torch.cuda.is_available():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def make_session(
    path: str | Path, threads: int | None = None, *, quiet: bool = False
) -> ort.InferenceSession:
    """An onnxruntime session with full graph optimizations; threads=None keeps ORT's default."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Errors only (shape warnings would flood the job log); quiet=True drops those too,
    # for callers that turn the raised exception into their own message.
    opts.log_severity_level = 4 if quiet else 3
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), sess_options=opts, providers=ort_providers())


def feeds_for(
    session: ort.InferenceSession,
    inputs: Sequence[Tensor] | Mapping[str, np.ndarray],
    input_names: Sequence[str],
) -> dict[str, np.ndarray]:
    """Name the inputs, as numpy, keeping only those the graph actually takes."""
    if isinstance(inputs, Mapping):
        named = {k: np.asarray(v) for k, v in inputs.items()}
    else:
        if len(inputs) != len(input_names):
            raise ValueError(f"{len(inputs)} input tensors for {len(input_names)} input names")
        named = {n: t.detach().cpu().numpy() for n, t in zip(input_names, inputs, strict=True)}
    # The TorchScript exporter drops inputs the graph never reads (an ignored
    # attention_mask); onnxruntime rejects feeds it does not know.
    wanted = {i.name for i in session.get_inputs()}
    return {k: v for k, v in named.items() if k in wanted}


def ort_logits(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Run the session; the 'logits' output if there is one, else the first output."""
    names = [o.name for o in session.get_outputs()]
    name = "logits" if "logits" in names else names[0]
    return np.asarray(session.run([name], feeds)[0])


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b|; positions where both are NaN agree, NaN against a number is inf."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(a64) & np.isnan(b64)
    diff = np.abs(a64 - b64)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    return float(diff.max()) if diff.size else 0.0


# -- public checks ---------------------------------------------------------------------
def check_model(path: str | Path) -> tuple[bool, str]:
    """onnx.checker with shape inference; (True, "") or (False, one-line message)."""
    try:
        # The path form reads external data lazily, so models over 2 GB check too.
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # ValidationError, InferenceError, or a file problem
        return False, " ".join(str(exc).split())[:300] or type(exc).__name__
    return True, ""


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor stored in a graph: initializers and constant attributes, subgraphs too."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for g in attr.graphs:
                yield from _tensors(g)


def external_data_files(path: str | Path) -> list[Path]:
    """The external-data files an .onnx file refers to (none for a self-contained file)."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    found: dict[Path, None] = {}
    for tensor in _tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next(e.value for e in tensor.external_data if e.key == "location")
            found[path.parent / location] = None
    return list(found)


def onnx_size_bytes(path: str | Path) -> int:
    """Bytes on disk of the .onnx file plus every external-data file it refers to."""
    path = Path(path)
    return path.stat().st_size + sum(f.stat().st_size for f in external_data_files(path))


ZIP_CHUNK = 1 << 20  # stream files through deflate a MiB at a time: multi-GB models fit in memory


def onnx_zip_bytes(path: str | Path, level: int = 1) -> int:
    """Deflated bytes of the .onnx file plus its external-data files, as `zip -1` stores them."""
    # Raw deflate (wbits=-15) is exactly what zipfile writes per member; only the small
    # headers are left out, and counting instead of writing an archive keeps a second copy
    # of the model off the disk. Level 1: on float weights it lands within a few percent of
    # the default level 6 at about 4x the speed (~35 MB/s a core), which matters for GB models.
    # Zeroed weights compress well, so this is where unstructured sparsity shows up even
    # though the tensors stay dense.
    total = 0
    for file in (Path(path), *external_data_files(path)):
        deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        with open(file, "rb") as f:
            while chunk := f.read(ZIP_CHUNK):
                total += len(deflate.compress(chunk))
        total += len(deflate.flush())
    return total


def compare_with_torch(
    path: str | Path,
    module: nn.Module,
    batches: Iterable[Sequence[Tensor]],
    input_names: Sequence[str],
    session: ort.InferenceSession | None = None,
) -> tuple[float, float]:
    """Run each batch in PyTorch and onnxruntime: (max |logit diff|, top-1 agreement).

    `session`, when given, is an open session on `path` (one session serves parity and
    latency: each start parses the whole model and holds its weights again).
    """
    session = session or make_session(path)
    worst, agree, total = 0.0, 0, 0
    for batch in batches:
        ref = torch_logits(module, batch)
        got = ort_logits(session, feeds_for(session, batch, input_names))
        if got.shape != ref.shape:
            raise ValueError(f"onnxruntime logits {got.shape} vs PyTorch {ref.shape}")
        worst = max(worst, max_abs_diff(got, ref))
        agree += int((got.argmax(-1) == ref.argmax(-1)).sum())
        total += int(np.prod(ref.shape[:-1]))
    if total == 0:
        raise ValueError("no parity batches to compare")
    return worst, agree / total


def measure_latency(
    path: str | Path,
    inputs: tuple[Tensor, ...] | dict[str, np.ndarray],
    input_names: Sequence[str],
    *,
    warmup: int = 5,
    runs: int = 30,
    threads: int | None = None,
    session: ort.InferenceSession | None = None,
) -> tuple[float, float]:
    """onnxruntime latency of one forward: (p50, p95) in milliseconds over `runs` runs.

    `session`, when given, is an open session on `path` and `threads` is not used.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    session = session or make_session(path, threads=threads)
    feeds = feeds_for(session, inputs, input_names)
    for _ in range(warmup):
        session.run(None, feeds)
    times_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times_ms.append((time.perf_counter() - start) * 1000.0)
    p50, p95 = np.percentile(times_ms, [50, 95])
    return float(p50), float(p95)


def onnx_opset(path: str | Path) -> int:
    """The default-domain opset the file declares."""
    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


_ORT_BOILERPLATE = re.compile(
    r"\[ONNXRuntimeError\] : \d+ : |Non-zero status code returned while running "
)


def describe_ort_error(exc: BaseException) -> str:
    """onnxruntime's message without its boilerplate, so the failing node fits in one line."""
    return first_line(_ORT_BOILERPLATE.sub("", str(exc))) or type(exc).__name__
