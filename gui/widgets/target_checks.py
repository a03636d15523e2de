"""The Export page's Targets tab: the variant's deployable files checked against a target.

A picker of the known targets (shipped and the workspace's), a Check button that measures
off the GUI thread, and one table per file and target: each requirement with its measured
value, its limit, pass/fail and, when it fails, the reason and what to do. The checks the
job stored on the card (deploy.targets) show as soon as the variant opens.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.deploy.text import fmt_value
from gui.threads import BackgroundCall

PASS, FAIL, MUTED = "#2e7d32", "#c62828", "#666"
NONE_YET = ("No target checks yet. Pick a target and press <b>Check</b>, or list targets in "
            "the recipe's <i>Deploy targets</i> (deploy.targets) to check every run.")


def _known_targets(root: Path | None) -> tuple[dict[str, Any], list[str]]:
    """({name: TargetProfile}, [one line per bad target file]): bad files do not hide the rest."""
    from engine.config_fields import ConfigError
    from engine.deploy.targets import load_target_file, target_files

    good, bad = {}, []
    for name, path in target_files(root).items():
        try:
            good[name] = load_target_file(path)
        except ConfigError as exc:
            bad.append(str(exc))
    return good, bad


def result_html(res: Mapping[str, Any]) -> str:
    """One file against one target: a heading and a table of its requirements."""
    ok = res.get("passed")
    head = (f"<b>{html.escape(str(res.get('artifact')))}</b> on <b>{html.escape(str(res.get('target')))}"
            f"</b>: <b style='color:{PASS if ok else FAIL}'>{'PASS' if ok else 'FAIL'}</b>")
    if res.get("proxy"):
        head += (f" <span style='color:{MUTED}'>(latency is a proxy: measured on this machine "
                 f"with {res.get('threads')} threads)</span>")
    rows = ["<tr><th align=left>Requirement</th><th align=right>Measured</th>"
            "<th align=right>Limit</th><th>Result</th></tr>"]
    for r in res.get("requirements") or []:
        unit = r.get("unit", "")
        colour = PASS if r["passed"] else FAIL
        rows.append(
            f"<tr><td>{html.escape(r['name'])}</td>"
            f"<td align=right>{html.escape(fmt_value(r.get('measured'), unit))}</td>"
            f"<td align=right>{html.escape(fmt_value(r.get('limit'), unit))}</td>"
            f"<td align=center style='color:{colour}'><b>{'pass' if r['passed'] else 'FAIL'}"
            "</b></td></tr>")
        if r.get("reason"):
            rows.append(f"<tr><td colspan=4 style='color:{FAIL}; padding-left:12px'>"
                        f"{html.escape(r['reason'])}</td></tr>")
    return f"<p>{head}</p><table cellspacing=0 cellpadding=3 width='100%'>{''.join(rows)}</table>"


class TargetChecks(QWidget):
    """Target picker, Check button, status line and the results of the shown variant."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._card: dict[str, Any] = {}
        self._run_id: str | None = None
        self._root: Path | None = None
        self._call: BackgroundCall | None = None
        self.results: list[dict[str, Any]] = []
        self.picker = QComboBox()
        self.check_btn = QPushButton("Check")
        self.check_btn.setToolTip("Measure every deployable file of this variant against the "
                                  "target (size, peak memory, int8, opset, latency, ...)")
        self.check_btn.clicked.connect(self.check)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {MUTED};")
        self.table = QLabel(NONE_YET)
        self.table.setTextFormat(Qt.TextFormat.RichText)
        self.table.setWordWrap(True)
        self.table.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scroll = QScrollArea()
        scroll.setWidget(self.table)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        row = QHBoxLayout()
        row.addWidget(QLabel("Target:"))
        row.addWidget(self.picker, 1)
        row.addWidget(self.check_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)

    def show_variant(self, run_id: str, card: Mapping[str, Any], root: Path | None) -> None:
        """Show a variant's stored target checks and offer the known targets."""
        if run_id != self._run_id:
            self.results = list(card.get("target_checks") or [])
        self._run_id, self._card, self._root = run_id, dict(card), root
        targets, bad = _known_targets(root)
        current = self.picker.currentText()
        self.picker.clear()
        for name, t in targets.items():
            self.picker.addItem(name)
            self.picker.setItemData(self.picker.count() - 1,
                                    f"{t.description}\n{t.limits_text()}", Qt.ItemDataRole.ToolTipRole)
        if current in targets:
            self.picker.setCurrentText(current)
        elif "edge" in targets:
            self.picker.setCurrentText("edge")
        self.status.setText(" ".join(bad) if bad else
                            ("Stored with the run (deploy.targets)." if self.results else ""))
        self.check_btn.setEnabled(self._call is None and bool(targets))
        self._render()

    def _render(self) -> None:
        self.table.setText("<hr>".join(result_html(r) for r in self.results) if self.results
                           else NONE_YET)

    def check(self) -> None:
        """Measure the variant's files against the picked target on a worker thread."""
        from engine.deploy.checks import check_card, deployable_files, save_target_checks
        from engine.deploy.targets import get_target
        from engine.store import Workspace

        name, card, root, run_id = self.picker.currentText(), self._card, self._root, self._run_id
        if not name or self._call is not None:
            return
        if not deployable_files(card):
            self.status.setText("This variant has no ONNX file yet: export it first.")
            return
        self.check_btn.setEnabled(False)
        self.status.setText(f"Checking against {name}: measuring size, memory and latency…")
        def work() -> list[dict[str, Any]]:
            results = check_card(card, [get_target(name, root)])
            if root is not None and run_id is not None:  # kept on the card, as a job keeps them
                save_target_checks(Workspace(root), run_id, results)
            return results

        self._call = BackgroundCall(work, lambda res: self._checked(run_id, name, res), self._failed)

    def _checked(self, run_id: str | None, name: str, results: Sequence[dict[str, Any]]) -> None:
        self._call = None
        self.check_btn.setEnabled(True)
        if run_id != self._run_id:  # the page moved on to another variant meanwhile
            return
        self.results = [r for r in self.results if r.get("target") != name] + list(results)
        ok = all(r["passed"] for r in results)
        self.status.setText(f"{name}: {'every file passes' if ok else 'some requirements fail'} "
                            "(checked now; kept on the variant's card).")
        self._render()

    def _failed(self, message: str) -> None:
        self._call = None
        self.check_btn.setEnabled(True)
        self.status.setText(f"Check failed: {message}")

    def is_busy(self) -> bool:
        return self._call is not None
