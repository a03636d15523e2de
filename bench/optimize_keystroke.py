"""GUI-thread cost of typing in the Optimize page, and estimates computed per burst.

A small conv net (~0.96M parameters) is loaded with three stacked steps (structured
channels 25%, unstructured 50%, 2:4); five keystrokes edit step 2's amount. Prints the
worst time one keystroke kept the GUI thread busy, how many estimates the burst started
(the estimate runs on a worker thread once typing pauses), and the estimate shown.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 .venv/bin/python bench/optimize_keystroke.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402
from torch import nn  # noqa: E402

from engine.models.types import LoadedModel  # noqa: E402
from engine.recipe import Recipe  # noqa: E402
from gui.pages.optimize_page import OptimizePage  # noqa: E402
from gui.state import AppState, ModelInfo  # noqa: E402

RECIPE = """
name: conv
methods:
  - {type: structured_prune, target: channels, amount: 0.25}
  - {type: unstructured_prune, amount: 0.5}
  - {type: nm_prune}
"""


def conv_net() -> LoadedModel:
    """Four 3x3 conv layers (3 -> 64 -> 128 -> 256 -> 256) and a linear head."""
    net = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10),
    )
    return LoadedModel(module=net.eval(), task="generic", input_names=("input",), tokenizer=None,
                       input_shape=(1, 3, 32, 32))


def main() -> None:
    """Type a burst into the page and print the figures."""
    app = QApplication.instance() or QApplication([])
    state = AppState(tempfile.mkdtemp(), Recipe.from_yaml(RECIPE))
    page = OptimizePage(state)
    page.resize(1000, 700)
    page.show()
    state.set_model(ModelInfo(conv_net(), None))

    def settle() -> float:
        start = time.perf_counter()
        while page.live.busy():
            app.processEvents()
            time.sleep(0.005)
        app.processEvents()
        return time.perf_counter() - start

    settle()
    amount = page.steps.cards[1].form.editor("amount")
    before, worst = page.live.computations, 0.0
    for text in ["0", "0.", "0.6", "0.62", "0.625"]:
        start = time.perf_counter()
        amount.setText(text)
        app.processEvents()
        worst = max(worst, time.perf_counter() - start)
    waited = settle()
    print(f"worst GUI-thread time per keystroke: {worst * 1000:.1f} ms")
    print(f"estimates started by the 5-keystroke burst: {page.live.computations - before}")
    print(f"estimate shown {waited:.2f} s after the last keystroke: {page.estimate_label.full_text()}")


if __name__ == "__main__":
    main()
