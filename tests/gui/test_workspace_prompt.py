"""A workspace that cannot be opened at start-up: a dialog with the reason, not a traceback."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from gui import app as gui_app
from gui.workspace_prompt import open_workspace_interactively


def _broken(tmp_path):
    ws = tmp_path / "broken"
    (ws / "runs").mkdir(parents=True)
    (ws / "workspace.sqlite").write_bytes(b"not a database\n" * 100)
    return ws


def test_start_up_on_a_damaged_workspace_shows_why_and_quits_cleanly(qapp, tmp_path, capsys):
    seen: list[str] = []

    def answer_quit() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.informativeText())
        next(b for b in box.buttons() if b.text() == "Quit").click()

    QTimer.singleShot(300, answer_quit)
    code = gui_app.main(["--workspace", str(_broken(tmp_path)), "--quit-after", "0.2"])
    assert code == 2
    assert seen and "workspace.sqlite is damaged or not a workspace database" in seen[0]
    err = capsys.readouterr().err
    assert "workbench: " in err and "Traceback" not in err


def test_the_user_can_pick_another_folder_instead(tmp_path):
    asked: list[str] = []

    def pick(problem: str):
        asked.append(problem)
        return tmp_path / "fresh"

    ws, problem = open_workspace_interactively(_broken(tmp_path), ask=pick)
    assert ws is not None and ws.root == (tmp_path / "fresh").resolve() and problem == ""
    assert len(asked) == 1 and "is damaged" in asked[0]
