"""`python -m engine.cli`: the same as `workbench-cli`."""

import sys

from engine.cli import main

if __name__ == "__main__":  # importing this module (e.g. to scan the package) runs nothing
    sys.exit(main())
