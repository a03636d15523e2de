"""Past sensitivity scans of the current model: a picker that reads them from the workspace.

The same stored records `workbench-cli sensitivity --list / --show` read
(engine/sensitivity_store.py); choosing one hands its record to the panel, which redraws the
curves and the proposal without re-running anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from engine.sensitivity_store import list_scans, load_scan


def picker_label(head: dict[str, Any]) -> str:
    """One entry: when, by whom, recipe, levels and target (the id is the item's data)."""
    if "damaged" in head:
        return f"{head['id']} (damaged)"
    levels = ", ".join(f"{x:g}" for x in head.get("levels") or [])
    when = str(head.get("created") or "")[:16].replace("T", " ")
    return (f"{when} · by {head.get('by')} · {head.get('recipe')} · levels {levels} · "
            f"target {float(head.get('target') or 0):.0%}")


class ScanPicker(QWidget):
    """'Past scans:' and a combo of the stored scans for one model, newest first."""

    chosen = Signal(object)  # the stored record
    problem = Signal(str)  # a damaged file: one line saying which

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.root: Path | None = None
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(40)
        self.combo.setToolTip("Scans stored in the workspace for this model (by the GUI or "
                              "workbench-cli sensitivity); choosing one shows it without re-running")
        self.combo.activated.connect(self._activated)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Past scans:"))
        layout.addWidget(self.combo, 1)

    def refresh(self, root: str | Path, model: str, select: str | None = None) -> int:
        """List the stored scans of `model` (a model_key) under `root`; how many there are."""
        self.root = Path(root)
        heads = list_scans(self.root, model)
        self.combo.blockSignals(True)
        self.combo.clear()
        for head in heads:
            self.combo.addItem(picker_label(head), head["id"])
        self.combo.setPlaceholderText("none stored for this model yet" if not heads
                                      else f"{len(heads)} stored — choose one to show it")
        self.combo.setCurrentIndex(self.combo.findData(select) if select else -1)
        self.combo.blockSignals(False)
        self.combo.setEnabled(bool(heads))
        return len(heads)

    def ids(self) -> list[str]:
        return [self.combo.itemData(i) for i in range(self.combo.count())]

    def choose(self, scan_id: str) -> None:
        """Select and show the stored scan `scan_id` (as a click on it does)."""
        self.combo.setCurrentIndex(self.combo.findData(scan_id))
        self._activated(self.combo.currentIndex())

    def _activated(self, index: int) -> None:
        scan_id = self.combo.itemData(index)
        if not scan_id or self.root is None:
            return
        try:
            record = load_scan(self.root, scan_id)
        except ValueError as exc:
            self.problem.emit(str(exc))
            return
        self.chosen.emit(record)
