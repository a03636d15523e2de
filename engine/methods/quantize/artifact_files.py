"""Writing an artifact file safely, and keeping onnxruntime's quantizers quiet.

- a new file never overwrites an earlier one (two int4 steps give two files);
- a file is written into a staging folder and moved into place data first, .onnx last, so
  a crash leaves no half-written model behind (as the exporter does);
- a source with external data (weights in a "<name>.data" file, past protobuf's 2 GiB
  cap) gives an artifact with external data too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnx is imported when a file is written: registry discovery imports this
    import onnx


def unique_path(out_dir: Path, stem: str) -> Path:
    """`<out_dir>/<stem>.onnx`, or `<stem>-2.onnx`, `-3` ... when that name is taken."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = out_dir / (f"{stem}.onnx" if n == 1 else f"{stem}-{n}.onnx")
        if not path.exists() and not Path(f"{path}.data").exists():
            return path
        n += 1


def has_external_data(path: Path) -> bool:
    from engine.export.runtime import external_data_files

    return bool(external_data_files(path))


def save_model(model: onnx.ModelProto, path: Path, external: bool) -> None:
    """Write `model` to `path` (its tensors in `<path>.data` when `external`), atomically."""
    import onnx

    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        staged = staging / path.name
        if external:
            onnx.save_model(
                model, str(staged), save_as_external_data=True, all_tensors_to_one_file=True,
                location=f"{path.name}.data", size_threshold=1024,
            )  # fmt: skip
        else:
            onnx.save_model(model, str(staged))
        for name in sorted(p.name for p in staging.iterdir()):
            if name != path.name:  # the data first: whoever opens the .onnx finds it complete
                os.replace(staging / name, path.parent / name)
        os.replace(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Relay(logging.Handler):
    def __init__(self, log: Callable[[str], None], prefix: str):
        super().__init__(logging.WARNING)
        self.relay, self.prefix = log, prefix

    def emit(self, record: logging.LogRecord) -> None:
        self.relay(f"{self.prefix}{record.getMessage()}")


# onnxruntime.quantization logs one INFO line per node; neural_compressor is the logger of
# the RTN/GPTQ code bundled in it
_QUANT_LOGGERS = ("onnxruntime.quantization", "neural_compressor")


class _from_onnxruntime_to_log(logging.Filter):
    """Root-logger records from onnxruntime's quantization code go to the job log instead."""

    def __init__(self, log: Callable[[str], None], prefix: str):
        super().__init__()
        self.log, self.prefix = log, prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" not in record.pathname:
            return True
        if record.levelno >= logging.WARNING:
            self.log(self.prefix + record.getMessage())
        return False


@contextlib.contextmanager
def quiet_quantizer(log: Callable[[str], None], prefix: str) -> Iterator[None]:
    """Quantizer warnings go to the job log; its per-node INFO lines, Python warnings and the
    GPTQ progress bar (printed to stdout) go nowhere."""
    relay = _Relay(log, prefix)
    saved = []
    for name in _QUANT_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.WARNING)
        logger.propagate = False
        logger.addHandler(relay)
    import onnxruntime as ort

    # the calibration and shape sessions on intermediate graphs print C++ warnings (shape
    # merges on pre-processed graphs) that say nothing about the file that ships
    ort.set_default_logger_severity(3)
    root = logging.getLogger()
    root.addFilter(_from_onnxruntime_to_log(log, prefix))  # it warns on the root logger too
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        ort.set_default_logger_severity(2)
        for f in [f for f in root.filters if isinstance(f, _from_onnxruntime_to_log)]:
            root.removeFilter(f)
        for logger, level, propagate in saved:
            logger.removeHandler(relay)
            logger.setLevel(level)
            logger.propagate = propagate


@contextlib.contextmanager
def keep_root_logging() -> Iterator[None]:
    """Undo the logging.basicConfig(level=INFO) that importing onnxruntime's
    matmul_nbits_quantizer runs, which would print every library's INFO lines."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
