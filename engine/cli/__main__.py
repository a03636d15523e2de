"""`python -m engine.cli`: the same as `workbench-cli`."""

import sys

from engine.cli import main

if __name__ == "__main__":  # importing this module (e.g. to scan the package) runs nothing
    code = main()
    # CPython (3.11-3.13) marks a KeyboardInterrupt raised inside exec()/eval() of a string
    # as "unhandled" even when it is caught, and `python -m` then ends the process by SIGINT
    # (exit -2) instead of our 130. dataclasses and namedtuple build their methods that way
    # thousands of times while the engine imports, so Ctrl+C in the first second often lands
    # there. Each exec() of a string clears that mark first, so one harmless exec resets it.
    exec("None")
    sys.exit(code)
