"""Open an HTML file in headless Chromium (QtWebEngine) and report what loaded.

    python -m tests.gui.report_browser REPORT.html SHOT.png

Prints one JSON line: {"ok", "images", "loaded", "boxes", "height"} (images: <img> count,
loaded: those complete with a natural width, boxes: flowchart boxes) and saves a screenshot
of the whole page. A process of its own: QtWebEngine starts Chromium's processes and global
state that crashed a test process full of other Qt widgets, so the tests run it apart.
"""

from __future__ import annotations

import json
import os
import sys

PROBE_JS = """JSON.stringify({
  images: document.images.length,
  loaded: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
  boxes: document.querySelectorAll('.flow .box').length,
  height: document.documentElement.scrollHeight})"""


def _wait(app, done, seconds: float) -> None:  # noqa: ANN001
    """Spin the event loop until done() or the time is up."""
    import time

    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(html: str, png: str, width: int = 1200) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    if "--no-sandbox" not in flags:  # Chromium's sandbox refuses to run as root
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = QWebEngineView()
    view.resize(width, 900)
    loaded: list[bool] = []
    view.loadFinished.connect(loaded.append)
    view.load(QUrl.fromLocalFile(os.path.abspath(html)))
    view.show()
    _wait(app, lambda: bool(loaded), 60)
    result: list[str] = []
    view.page().runJavaScript(PROBE_JS, 0, result.append)
    _wait(app, lambda: bool(result), 30)
    state = {"ok": bool(loaded and loaded[0]), **(json.loads(result[0]) if result else {})}
    view.resize(width, min(int(state.get("height", 900)) + 20, 12000))  # the whole page
    _wait(app, lambda: False, 1.0)  # let Chromium paint the taller viewport
    state["saved"] = view.grab().save(png)
    return state


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
