"""Run page: start, pause, resume and cancel the current recipe and watch it train.

All work happens in the runner's thread (or process); this page only reacts to
its signals, so the window stays responsive however busy the job is.
"""

from __future__ import annotations

import dataclasses
import html
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QWidget,
)

from engine.events import Artifact, Failed, Finished, Log, Metric, Progress, StageStarted
from engine.job import JobResult
from engine.recipe import Recipe
from engine.report import method_label
from gui.pages.run_page_ui import LOG_LINES, RunPageUi  # noqa: F401 (LOG_LINES: re-exported)
from gui.pages.run_text import (
    STAGE_TITLES,
    card_summary,
    fmt_duration,
    live_quantize_steps,
    sparsity_mode,
    stage_title,
    summary_text,
)
from gui.recipe_runner import RecipeRunner
from gui.runner import RunnerBase, preload_torch_internals
from gui.state import AppState
from gui.threads import BackgroundCall

ERROR_COLOR = "#c62828"
WARNING_COLOR = "#b26a00"
OK_COLOR = "#2e7d32"
CANCELLED_TEXT = "cancelled — recorded as cancelled, nothing exported"
WARM_UP_MS = 1000  # after the window is up: torch's lazy imports then, not in the first run


class RunPage(RunPageUi, QWidget):
    """Controls, progress, live plots and the log of one job at a time."""

    run_ended = Signal(object)  # JobResult, after the page has updated itself

    def __init__(self, state: AppState, runner: RunnerBase | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.runner = runner or RecipeRunner(self)  # a ddp recipe runs as a process
        self.last_result: JobResult | None = None
        self._last_recipe: Recipe | None = None  # as the user started it (with their trust)
        self._stage = ""
        self._started_at = 0.0
        self._eta_at: float | None = None  # monotonic time the job should end, per the last estimate
        self._quantize_seen = False  # this run's quantize events have switched to their tab
        self._build()
        self.runner.event.connect(self._on_event)
        self.runner.finished.connect(self._on_finished)
        self.runner.running_changed.connect(lambda _running: self._update_buttons())
        self.runner.paused_changed.connect(self._on_paused)
        self.runner.refused.connect(lambda msg: self.set_status(msg, ERROR_COLOR))
        state.recipe_changed.connect(self._on_state_recipe)
        state.workspace_changed.connect(self.history.set_workspace)
        state.variants_changed.connect(self._refresh_history)
        self._show_recipe(state.recipe)
        self._update_buttons()
        self._warm_up: BackgroundCall | None = None
        QTimer.singleShot(WARM_UP_MS, self, self._start_warm_up)  # cancelled with the page

    def _start_warm_up(self) -> None:
        if self._warm_up is None:
            self._warm_up = BackgroundCall(preload_torch_internals)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        """The least height at `width`: the window's scroll area then gives the plots the rest.

        Wrapped labels make the layout height-for-width, and its answer would be the
        preferred height (plots at their size hint), forcing a scroll bar at 1024 × 700.
        """
        return self.layout().minimumHeightForWidth(width)

    def _on_state_recipe(self, recipe: Recipe) -> None:
        """A new current recipe: the header shows it, the plots keep the run they show."""
        if self.runner.running:
            return  # the page describes the job that is running until it ends
        shown = self._last_recipe
        if shown is None or shown.name == recipe.name and shown.methods == recipe.methods:
            self._show_recipe(recipe)
            return
        # the curves below belong to the last run: say so instead of putting them under
        # the new recipe's name (its sparsity views change when it starts)
        self.title.setText(f"Run — {recipe.name}")
        self.recipe_line.setText(f"Start runs {recipe.name}; the plots show the last run, {shown.name}.")

    def _show_recipe(self, recipe: Recipe) -> None:
        self.title.setText(f"Run — {recipe.name}")
        steps = ", ".join(method_label(m) for m in recipe.methods) or "no optimization steps"
        t = recipe.train
        limit = f"max {t.max_steps} steps" if t.max_steps else f"{t.epochs} epoch(s)"
        export = "ONNX export" if recipe.export.enabled else "no export"
        self.plots.show_sparsity(sparsity_mode(recipe))
        self.flowchart.show_recipe(recipe)
        self._show_quantize_tab(live_quantize_steps(recipe))
        self.recipe_line.setText(
            f"{recipe.model.source}:{recipe.model.path} · {steps} · {limit}, batch {t.batch_size}"
            + (f" × {t.processes} processes ({t.strategy})" if t.processes > 1 else "") + f" · {export}"
        )

    def _show_quantize_tab(self, steps: list[tuple[int, str, str]]) -> None:
        """The Quantization tab (and the tab bar) only for a recipe with an int8 step."""
        self.quantize_panel.set_steps(steps)
        self.plot_tabs.setTabVisible(1, bool(steps))
        self.plot_tabs.tabBar().setVisible(bool(steps))
        if not steps:
            self.plot_tabs.setCurrentIndex(0)

    # -- control -------------------------------------------------------------------
    def start(self, recipe: Recipe | None = None, resume_run: str | None = None) -> bool:
        """Run `recipe` (default: the state's current recipe); False if it cannot start."""
        recipe = recipe or self.state.recipe
        self.continue_button.hide()
        errors = recipe.errors()
        if errors:
            self.set_status(f"cannot run: {errors[0]}", ERROR_COLOR)
            return False
        if self.runner.running:
            self.set_status("a job is already running; cancel it or wait for it to finish", ERROR_COLOR)
            return False
        if resume_run is None:  # a continued run keeps its curves and log: it is the same run
            self.plots.reset()
            self.log.clear()
        self.quantize_panel.reset()  # a continued run quantizes again from the start
        self.plot_tabs.setCurrentIndex(0)
        self._quantize_seen = False
        self.progress.setValue(0)
        self.last_result = None
        self._stage = ""
        self._started_at = time.monotonic()
        self._eta_at = None
        self.eta_label.setText("")
        self.eta_timer.start()
        self._show_recipe(recipe)
        self._last_recipe = recipe
        self.set_status(f"continuing {resume_run}…" if resume_run else f"starting {recipe.name}…")
        self.ranks.reset()
        self.ranks.setVisible(recipe.train.processes > 1)
        if recipe.train.processes > 1:  # the events are rank 0's, relayed by workbench-cli
            self._log(f"{recipe.train.processes} processes under torchrun: the plots show the run "
                      "(rank 0), the table each rank; Pause and Cancel hold or stop every rank")  # fmt: skip
        return self.runner.start(recipe, self.state.workspace, resume_run)

    def resumable_run(self) -> str | None:
        """The last run's id when it was cancelled with a training checkpoint to continue from."""
        r = self.last_result
        if r is None or r.status != "cancelled" or not r.run_id:
            return None
        return r.run_id if self.state.workspace.resumable(r.run_id) else None

    def continue_run(self) -> bool:
        """Continue the cancelled run with the recipe it was started with."""
        run_id = self.resumable_run()
        if run_id is None:
            return False
        recipe = Recipe.from_yaml(self.state.workspace.get(run_id).recipe).untrusted()
        started = self._last_recipe
        if started is not None and dataclasses.replace(started.model, trust=False) == recipe.model:
            # the trust the user gave when starting this run in this session carries over;
            # a recipe read back from the workspace never grants it by itself
            recipe = recipe.replace(model=started.model)
        return self.start(recipe, resume_run=run_id)

    def cancel(self) -> None:
        if self.runner.running:
            self.set_status("cancelling at the next batch boundary…", WARNING_COLOR)
            self.runner.cancel()

    def _update_buttons(self) -> None:
        running, paused = self.runner.running, self.runner.paused
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not paused and self.runner.can_pause)
        self.resume_button.setEnabled(running and paused)
        self.cancel_button.setEnabled(running)

    def _on_paused(self, paused: bool) -> None:
        self._update_buttons()
        if self.runner.running:
            self.set_status("paused — resumes at the same batch" if paused else "running", WARNING_COLOR if paused else None)

    def set_status(self, text: str, color: str | None = None) -> None:
        self.status.setStyleSheet(f"color: {color};" if color else "")
        self.status.setText(text)

    # -- events --------------------------------------------------------------------
    def _on_event(self, ev: object) -> None:
        self.plots.on_event(ev)
        self.ranks.on_event(ev)
        self.flowchart.on_event(ev)
        if self.quantize_panel.on_event(ev):
            if not self._quantize_seen:  # once per run: training is over, show the step
                self._quantize_seen = True
                self.plot_tabs.setCurrentWidget(self.quantize_panel)
        elif isinstance(ev, Progress):
            self.progress.setValue(int(ev.fraction * 1000))
            stage = f"{self._stage} — {ev.message}" if ev.message and ev.message != self._stage else self._stage
            self.stage_label.setText(f"{stage}   {ev.fraction:.0%}")
            self._eta_at = time.monotonic() + ev.eta_s if ev.eta_s is not None and ev.fraction < 1 else None
            self._tick_eta()
        elif isinstance(ev, StageStarted):
            self._stage = stage_title(ev.stage, self._last_recipe)
            # a named stage's own words say what the engine's message repeats (it stays in the log)
            named = ev.stage in STAGE_TITLES and ev.stage != "run"
            self.stage_label.setText(self._stage + (f" — {ev.message}" if ev.message and not named else ""))
            self._log(f"── {self._stage}: {ev.message}" if ev.message else f"── {self._stage}")
            if ev.stage == "run":  # a new variant is in the store (as running)
                self.set_status(f"running — {ev.message}")
                self.state.variants_changed.emit()
        elif isinstance(ev, Log):
            self._log(ev.message, ev.level)
        elif isinstance(ev, Metric) and ev.name.startswith("val/"):
            self._log(f"step {ev.step}: {ev.name} = {ev.value:.4g}")
        elif isinstance(ev, Artifact):
            self._log(f"{ev.kind}: {ev.path}")
            if ev.kind == "metrics":  # the run folder is named by its id
                self.history.set_current(Path(ev.path).parent.name)
        elif isinstance(ev, Finished):
            self._log(f"finished {ev.run_id}: {summary_text(ev.summary)}")
        elif isinstance(ev, Failed):
            self._log(f"failed: {ev.error}", "error")

    def _tick_eta(self) -> None:
        """'ETA 1 min 05 s', counted down from the last estimate ('' when there is none)."""
        if self._eta_at is None:
            self.eta_label.setText("")
            return
        left = max(self._eta_at - time.monotonic(), 0.0)
        self.eta_label.setText(f"ETA {fmt_duration(left)}" if left >= 1 else "ETA a moment")

    def _toggle_history(self, on: bool) -> None:
        self.history.setVisible(on)
        if on:
            self.history.refresh()

    def _refresh_history(self) -> None:
        if self.history.isVisible():
            self.history.refresh()

    def _log(self, message: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        color = {"error": ERROR_COLOR, "warning": WARNING_COLOR}.get(level)
        text = html.escape(f"{stamp}  {message}")
        self.log.appendHtml(f'<span style="color:{color}">{text}</span>' if color else text)

    def _on_finished(self, result: JobResult) -> None:
        self.last_result = result
        self.flowchart.finish(result.status)
        if self._quantize_seen:
            self.quantize_panel.finish(result.status)
        self.eta_timer.stop()
        self._eta_at = None
        elapsed = fmt_duration(time.monotonic() - self._started_at)
        self.eta_label.setText(f"took {elapsed}")
        if result.status == "finished":
            self.progress.setValue(1000)
            self.stage_label.setText("done")
            line = summary_text(card_summary(result.card))
            self.set_status(f"✔ finished {result.run_id}" + (f" — {line}" if line else ""), OK_COLOR)
        elif result.status == "cancelled":
            self.stage_label.setText("cancelled")
            resumable = self.resumable_run() is not None
            self.set_status(CANCELLED_TEXT + ("; Continue run picks up from the last training "
                                              "checkpoint" if resumable else ""), WARNING_COLOR)
            self.continue_button.setVisible(resumable)
        else:
            self.stage_label.setText("failed")
            self.set_status(f"failed: {result.error}", ERROR_COLOR)
        if result.run_id:
            self.state.variants_changed.emit()
        if result.status == "finished" and result.run_id:
            self.state.select_variant(result.run_id)
        self._update_buttons()
        self.run_ended.emit(result)
