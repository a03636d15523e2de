"""The scroll area each page of the main window sits in, sized to fit the page's least size."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QScrollArea, QWidget


class PageArea(QScrollArea):
    """A page in a frameless scroll area: a page that needs more room than the window has
    scrolls instead of setting the window's minimum size (the window must fit 1024 × 700).

    The page is sized by hand to the viewport, grown to its minimum size hint: Qt's resizable
    mode asks word-wrapped layouts for their *preferred* height, which scrolls a page (the
    Model page's long layer table) that would fit.
    """

    def __init__(self, page: QWidget):
        super().__init__()
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(page)
        page.installEventFilter(self)

    def fit_page(self) -> None:
        """Size the page to the viewport, but never below its minimum."""
        page = self.widget()
        if page is None:
            return
        view, least = self.viewport().size(), page.minimumSizeHint()
        width = max(view.width(), least.width())
        height = least.height()
        if type(page).heightForWidth is not QWidget.heightForWidth:
            # a page that answers its own least height at a width (wrapped labels); Qt's
            # default answer is the preferred height, which would scroll a page that fits
            height = max(height, page.heightForWidth(width))
        page.resize(width, max(view.height(), height))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit_page()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit_page()  # its minimum may have changed (a banner, a loaded model)
        return super().eventFilter(watched, event)

