"""The ranks' stderr as the relay passes it on: torchrun's own reports become one line.

torchrun (its elastic agent) logs in glog form and, when a rank fails, raises a
ChildFailedError whose traceback and failure table would bury the one line that matters.
Those are dropped; what they say about the rank that died first is kept (`crashes`) for the
run's error. Everything the ranks themselves print passes as it is, and their
`error: rank N: ...` lines are kept too (`rank_errors`).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable

RANK_ERROR = re.compile(r"^error: rank (\d+): (.*)$")
AGENT_LOG = re.compile(r"^[WIEF]\d{4} [\d:.]+ \d+ \S*torch/distributed/\S+\] (.*)$")
CHILD_FAILED = re.compile(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+)")


def exit_text(code: int) -> str:
    """'exit code 1', or 'killed by SIGKILL' for a negative code (a signal)."""
    if code < 0:
        sig = -code
        return f"killed by {signal.Signals(sig).name}" if sig in signal.valid_signals() \
            else f"killed by signal {sig}"  # fmt: skip
    return f"exit code {code}"


class StderrFilter:
    """Feed lines; `write` receives what the user should see."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.rank_errors: list[tuple[str, str]] = []
        self.crashes: list[tuple[str, int]] = []  # (local rank, exit code), first failure first
        self._traceback: list[str] | None = None
        self._table_rules = -1  # '=' rules of torchrun's failure table still to skip past

    def feed(self, line: str) -> None:
        text = line.rstrip("\n")
        if self._table_rules >= 0:  # inside torchrun's failure table (two '=' rules)
            if text.startswith("====="):
                self._table_rules -= 1
            if self._table_rules == 0:
                self._table_rules = -1
            return
        if self._traceback is not None:
            self._in_traceback(line, text)
            return
        if text == "Traceback (most recent call last):":
            self._traceback = [line]
            return
        agent = AGENT_LOG.match(text)
        if agent:
            failed = CHILD_FAILED.search(agent.group(1))
            if failed:
                self.crashes.append((failed.group(2), int(failed.group(1))))
            return
        m = RANK_ERROR.match(text.strip())
        if m:
            self.rank_errors.append((m.group(1), m.group(2)))
        self.write(line)

    def _in_traceback(self, line: str, text: str) -> None:
        assert self._traceback is not None
        if text.startswith((" ", "\t")) or not text:
            self._traceback.append(line)
            return
        block, self._traceback = self._traceback + [line], None
        if any("torch/distributed/" in b for b in block) and ("Error" in text or "Exception" in text):
            if "ChildFailedError" in text:
                self._table_rules = 2
            return  # torchrun's own: what it says is in `crashes`
        for b in block:
            self.write(b)

    def crash_message(self) -> str | None:
        """One line for the rank that died first, or None."""
        if not self.crashes:
            return None
        local_rank, code = self.crashes[0]
        return f"training process of local rank {local_rank} died ({exit_text(code)})"
