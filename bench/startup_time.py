"""Start-up of the desktop app: seconds from process start to the window shown, whether torch
was imported by then, and (with --ready) when the pages and the recipe's model are ready plus
the longest event-loop gap on the way. Target: window shown in <= 2 s, torch after it.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/startup_time.py [--ready] [--runs 3]

Each run is a fresh process (imports are what is measured).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def since_process_start() -> float:
    """Seconds since this process started (Linux /proc), so interpreter start-up counts too."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def child(ready: bool, workspace: str) -> None:
    """One app start in this process; prints the figures and exits."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import gui.main_window as mw

    shown = mw.MainWindow.show
    gap = {"last": 0.0, "max": 0.0}

    def show(self: mw.MainWindow) -> None:
        shown(self)
        QApplication.processEvents()  # the first paint
        print(f"window shown after {since_process_start():.2f} s; torch imported then: "
              f"{'torch' in sys.modules}", flush=True)
        if not ready:
            os._exit(0)
        timer = QTimer(self)
        timer.setInterval(10)

        def tick() -> None:
            now = time.perf_counter()
            gap["max"] = max(gap["max"], now - gap["last"]) if gap["last"] else 0.0
            gap["last"] = now
            if self.pages_ready() and not self.model_page.is_busy() and self.state.model_info:
                print(f"pages and model ready after {since_process_start():.2f} s; longest "
                      f"event-loop gap {gap['max'] * 1000:.0f} ms", flush=True)
                os._exit(0)

        timer.timeout.connect(tick)
        timer.start()

    mw.MainWindow.show = show
    from gui.app import main

    main(["--workspace", workspace])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ready", action="store_true", help="also wait for the pages and the model")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workspace", default=str(Path("/tmp") / "workbench-startup-ws"))
    args = p.parse_args()
    if args.child:
        child(args.ready, args.workspace)
        return 0
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    for _ in range(args.runs):
        cmd = [sys.executable, __file__, "--child", "--workspace", args.workspace]
        out = subprocess.run(cmd + (["--ready"] if args.ready else []), env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=300)
        print("\n".join(line for line in out.stdout.splitlines() if line.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
