"""workbench-cli: run recipes headless and inspect the workspace.

Exit codes: 0 done, 1 the run failed, 2 bad input (nothing was run),
130 cancelled (Ctrl+C or SIGTERM).

`main` here is deliberately light: it takes over SIGINT/SIGTERM before torch and the
rest are imported, so Ctrl+C in the first seconds ends with exit 130 and one line, not
an import traceback, and a process started with SIGINT ignored still hears it.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str] | None = None) -> int:
    """The `workbench-cli` entry point (see engine.cli.dispatch for the commands)."""
    previous = {}
    try:
        try:  # inside the outer try: Ctrl+C may land the moment SIGINT's handler is set
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, signal.default_int_handler)
        except ValueError:  # not the main thread (in-process callers): leave signals alone
            pass
        from engine.quiet import install

        install()  # harmless library warnings (torchao's missing kernels...) are not printed
        from engine.cli.dispatch import main as run_main

        return run_main(argv)
    except KeyboardInterrupt:  # while importing, before a command could handle it
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:  # in-process callers (tests, notebooks) get their own handlers back
        for sig, handler in previous.items():
            signal.signal(sig, handler)
