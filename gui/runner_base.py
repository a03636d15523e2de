"""What every job runner offers the pages: its signals, running/paused state, and the API."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.job import JobResult
from engine.recipe import Recipe
from engine.store import Workspace

BUSY_MESSAGE = "a job is already running; cancel it or wait for it to finish first"


class RunnerBase(QObject):
    """Signals and state shared by the thread and process runners."""

    event = Signal(object)  # an engine.events dataclass, delivered on the GUI thread
    finished = Signal(object)  # JobResult, after the last event
    running_changed = Signal(bool)
    paused_changed = Signal(bool)
    refused = Signal(str)  # start() while busy, or a start that could not happen

    can_pause = True  # whether pause()/resume() do anything for this runner

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running = False
        self._paused = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return self._paused

    def _refuse_if_busy(self) -> bool:
        if self._running:
            self.refused.emit(BUSY_MESSAGE)
            return True
        return False

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._set_paused(False)
        self.running_changed.emit(running)

    def _set_paused(self, paused: bool) -> None:
        if paused != self._paused:
            self._paused = paused
            self.paused_changed.emit(paused)

    def _end(self, result: JobResult) -> None:
        self._set_running(False)
        self.finished.emit(result)

    # the API every runner offers
    def start(self, recipe: Recipe, workspace: Workspace, resume_run: str | None = None) -> bool:
        """Run `recipe`; with `resume_run`, continue that unfinished run from its train state."""
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    def wait(self, ms: int = 30000) -> bool:
        raise NotImplementedError
