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


def _load(app, html: str, width: int, height: int):  # noqa: ANN001, ANN202
    """A shown view of (width, height) with the page loaded: (view, load ok)."""
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineCore import QWebEngineSettings
    from PySide6.QtWebEngineWidgets import QWebEngineView

    view = QWebEngineView()
    # no scroll bar in the screenshot tiles (scrolling by script still works)
    view.settings().setAttribute(QWebEngineSettings.WebAttribute.ShowScrollBars, False)
    view.resize(width, height)
    loaded: list[bool] = []
    view.loadFinished.connect(loaded.append)
    view.load(QUrl.fromLocalFile(os.path.abspath(html)))
    view.show()
    _wait(app, lambda: bool(loaded), 60)
    return view, bool(loaded and loaded[0])


def _js(app, view, script: str, seconds: float = 30):  # noqa: ANN001, ANN202
    result: list = []
    view.page().runJavaScript(script, 0, result.append)
    _wait(app, lambda: bool(result), seconds)
    return result[0] if result else None


def _whole_page(app, view, width: int, height: int, tile: int):  # noqa: ANN001, ANN202
    """The whole page as one QImage, grabbed a viewport at a time (one very tall offscreen
    view paints nothing at all past a few thousand pixels)."""
    from PySide6.QtGui import QImage, QPainter

    out = QImage(width, height, QImage.Format.Format_RGB32)
    out.fill(0xFFFFFF)
    painter = QPainter(out)
    y = 0
    while y < height:
        top = int(_js(app, view, f"window.scrollTo(0, {y}); window.scrollY") or 0)
        _wait(app, lambda: False, 0.6)  # let Chromium paint the scrolled viewport
        painter.drawImage(0, top, view.grab().toImage())
        y = top + tile
    painter.end()
    return out


def main(html: str, png: str, width: int = 1200, tile: int = 1500) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    if "--no-sandbox" not in flags:  # Chromium's sandbox refuses to run as root
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view, ok = _load(app, html, width, tile)
    probe = _js(app, view, PROBE_JS)
    state = {"ok": ok, **(json.loads(probe) if probe else {})}
    image = _whole_page(app, view, width, min(int(state.get("height", tile)), 20000), tile)
    state["saved"] = image.save(png)
    state["bottom_ink"] = _ink(image, image.height() * 3 // 4)
    return state


def _ink(image, top: int) -> float:  # noqa: ANN001
    """Share of non-white pixels below `top` (sampled): 0 when Chromium painted nothing there."""
    hits = total = 0
    for y in range(top, image.height(), 7):
        for x in range(0, image.width(), 7):
            total += 1
            hits += image.pixelColor(x, y).lightness() < 235
    return hits / max(total, 1)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
