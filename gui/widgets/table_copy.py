"""Every table of the GUI copies as TSV (tab-separated, a header row first), pasting cleanly
into a spreadsheet: Ctrl+C and a right-click "Copy as TSV".

Done once for the whole application: `install_table_copy(app)` watches the application's focus
changes, and the first time a table (QTableView, QTableWidget included) or its viewport gets
focus (a click or a right-click gives it) that table gets its own small event filter. An
application-wide event filter would run Python for every event of every object, including
objects half-way through destruction during a garbage collection, which crashes PySide.
What is copied: the selected cells' rows and columns (the rectangle around a selection), or the
whole table when nothing is selected; hidden columns and rows are left out, headers are the
column titles as shown. A table that has its own right-click menu (the Compare table) adds the
same entries with `add_copy_actions(menu, view)`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QTableView

COPY_TEXT, COPY_ALL_TEXT = "Copy as TSV", "Copy whole table as TSV"


def _cell(text: object) -> str:
    """One cell: tabs and line breaks inside it would split it in a spreadsheet."""
    return " ".join(str(text if text is not None else "").split("\t")).replace("\r", " ").replace("\n", " ")


def table_tsv(view: QTableView, whole: bool = False) -> str:
    """The selection (or the whole table: nothing selected, or `whole`) as TSV with a header."""
    model = view.model()
    if model is None:
        return ""
    picked = [] if whole else view.selectionModel().selectedIndexes() if view.selectionModel() else []
    rows = sorted({i.row() for i in picked}) or list(range(model.rowCount()))
    cols = sorted({i.column() for i in picked}) or list(range(model.columnCount()))
    rows = [r for r in rows if not view.isRowHidden(r)]
    cols = [c for c in cols if not view.isColumnHidden(c)]
    header = [model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) for c in cols]
    lines = ["\t".join(_cell(h if h is not None else c + 1) for h, c in zip(header, cols, strict=True))]
    for r in rows:
        lines.append("\t".join(_cell(model.index(r, c).data(Qt.ItemDataRole.DisplayRole)) for c in cols))
    return "\n".join(lines) + "\n"


def copy_table(view: QTableView, whole: bool = False) -> str:
    """Put the TSV on the clipboard; returns it."""
    text = table_tsv(view, whole)
    QApplication.clipboard().setText(text)
    return text


def add_copy_actions(menu: QMenu, view: QTableView) -> None:
    """"Copy as TSV" (the selection) and "Copy whole table as TSV" at the end of `menu`."""
    if menu.actions():
        menu.addSeparator()
    copy = menu.addAction(COPY_TEXT, lambda: copy_table(view))
    copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))  # shown, handled by the filter
    menu.addAction(COPY_ALL_TEXT, lambda: copy_table(view, whole=True))


def copy_menu(view: QTableView) -> QMenu:
    """The right-click menu of a table that has none of its own."""
    menu = QMenu(view)
    add_copy_actions(menu, view)
    return menu


def _table_of(obj: QObject) -> QTableView | None:
    """The table `obj` is, or whose viewport it is (where mouse events land)."""
    if isinstance(obj, QTableView):
        return obj
    parent = obj.parent()
    if isinstance(parent, QTableView) and parent.viewport() is obj:
        return parent
    return None


class TableCopyFilter(QObject):
    """One table's filter (on the table and its viewport): Ctrl+C and the right-click menu."""

    def __init__(self, view: QTableView):
        super().__init__(view)
        self.view = view
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        view = self.view
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and obj is view:
            if event.matches(QKeySequence.StandardKey.Copy):
                if kind == QEvent.Type.ShortcutOverride:  # the table, not a window action, gets it
                    event.accept()
                    return True
                copy_table(view)
                return True
        elif kind == QEvent.Type.ContextMenu and obj is view.viewport() \
                and view.contextMenuPolicy() == Qt.ContextMenuPolicy.DefaultContextMenu:
            # a table with its own menu (CustomContextMenu) adds our entries to it instead
            menu = copy_menu(view)
            menu.exec(event.globalPos())
            menu.deleteLater()
            return True
        return False


def enable_table_copy(view: QTableView) -> TableCopyFilter:
    """Ctrl+C and right-click copy on `view` (again: the same filter); lives as its child."""
    existing = view.findChild(TableCopyFilter, options=Qt.FindChildOption.FindDirectChildrenOnly)
    return existing if existing is not None else TableCopyFilter(view)


def _focused(_old: QObject | None, new: QObject | None) -> None:
    view = _table_of(new) if new is not None else None
    if view is not None:
        enable_table_copy(view)


def install_table_copy(app: QApplication) -> None:
    """Give every table, present or future, its copy filter when it first gets focus (once)."""
    if not app.property("table_copy_installed"):
        app.setProperty("table_copy_installed", True)
        app.focusChanged.connect(_focused)
