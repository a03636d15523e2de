"""Harmless warnings that libraries print on every run, silenced in one place.

`install()` is called once at start-up by workbench-cli and the GUI (library users of the
engine keep their own logging untouched). Each filter names exactly the message it drops
and says why that message is harmless here; anything else still gets through, so a real
problem is never hidden. Logging filters are used rather than levels: the loggers keep
reporting everything else.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# (logger name, pattern of the messages dropped from it, why they are harmless)
LOG_FILTERS: tuple[tuple[str, str, str], ...] = (
    (
        "torchao",
        r"^Failed to load .*torchao[/\\]_C\w*\.(?:\w|[.-])*so",
        # torchao (imported by transformers) tries its optional CUDA/CPU kernel binaries
        # (_C_mxfp8, _C_cutlass_90a), built for another Python and CUDA; the workbench calls
        # none of those kernels, and torchao falls back to plain torch code without them
        "optional torchao kernel binaries the workbench never calls",
    ),
    (
        "torchao",
        r"^Skipping import of cpp extensions due to incompatible torch version",
        # the same optional kernels, skipped for another torch version: same reason
        "optional torchao kernel binaries skipped for this torch version",
    ),
    (
        "torch.utils._pytree",
        r"is an Enum subclass and is now natively supported by torch\.compile",
        # torchao registers its Enums with torch's pytree the old way at import; torch only
        # notes the call is no longer needed (its deprecation is for torchao to act on)
        "torchao's Enum pytree registration, a no-op deprecation notice",
    ),
    (
        "transformers.configuration_utils",
        r"`torch_dtype` is deprecated! Use `dtype` instead!",
        # transformers renamed torch_dtype to dtype; folders saved by older versions still
        # carry torch_dtype, which it reads correctly (the notice is for their authors)
        "an older config's torch_dtype, read correctly",
    ),
)

# (category, message pattern, why harmless): Python warnings shown at most never
WARNING_FILTERS: tuple[tuple[type[Warning], str, str], ...] = (
    (
        DeprecationWarning,
        r".*torch\.jit\..* is deprecated",
        # TorchScript stays the workbench's safe, pickle-free format for user modules; torch
        # deprecates writing new TorchScript, not reading it
        "TorchScript reading, still supported",
    ),
)


class _DropMatching(logging.Filter):
    """Drops the log records whose message matches `pattern`."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to judge: let it through
            return True
        return not self.pattern.search(message)


_installed = False


def install() -> None:
    """Install every filter above (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name, pattern, _why in LOG_FILTERS:
        logging.getLogger(name).addFilter(_DropMatching(pattern))
    for category, pattern, _why in WARNING_FILTERS:
        warnings.filterwarnings("ignore", message=pattern, category=category)


@contextmanager
def fd_silenced(fd: int) -> Iterator[None]:
    """Point file descriptor `fd` (1 or 2) at /dev/null for the block: for lines C++ code
    writes there directly, which no logger or warning filter reaches."""
    (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor (a windowed app): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
