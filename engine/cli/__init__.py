"""workbench-cli: run recipes headless and inspect the workspace.

Exit codes: 0 done, 1 the run failed, 2 bad input (nothing was run),
130 cancelled (Ctrl+C or SIGTERM).
"""

from engine.cli.main import build_parser, main
from engine.cli.sensitivity import sensitivity_table

__all__ = ["build_parser", "main", "sensitivity_table"]
