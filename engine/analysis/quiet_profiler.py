"""torch.profiler without the two lines its C++ side writes to stderr at every start and stop.

This torch build logs "USDT: ... profiler_start" / "profiler_stop" straight to file
descriptor 2 (no logger or environment variable turns them off), once per profile; the CLI
and the GUI's log would show them for every measurement. Only the start and the stop run
with descriptor 2 pointed at /dev/null, so anything the model prints while profiled still
shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.quiet import fd_silenced


@contextmanager
def quiet_profile(**kwargs: Any) -> Iterator[Any]:
    """`torch.profiler.profile(**kwargs)` started and stopped without its stderr lines."""
    from torch.profiler import profile

    prof = profile(**kwargs)
    with fd_silenced(2):
        prof.start()
    try:
        yield prof
    finally:
        with fd_silenced(2):
            prof.stop()
