"""The Optimize page's live estimate: one computation per burst of edits, off the GUI thread,
the newest result only, and numbers equal to the engine's estimate for stacked steps."""

from __future__ import annotations

import threading

import pytest

from engine.estimate import estimate_steps
from engine.methods.prune.nm import NMPruneConfig
from engine.methods.prune.structured import StructuredPruneConfig
from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.models.builtin import build_tiny_module, tiny_loaded
from gui.pages.optimize_page import OptimizePage
from gui.state import ModelInfo
from gui.widgets.live_estimate import LiveEstimate, engine_estimator
from gui.widgets.method_steps import step_figure


@pytest.fixture
def tiny_gpt():
    """The tiny-gpt architecture (weights as built: the counts do not depend on training)."""
    return tiny_loaded("tiny-gpt", build_tiny_module("tiny-gpt"))


def _page(qtbot, app_state, loaded) -> OptimizePage:
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    app_state.set_model(ModelInfo(loaded, None))
    _settle(qtbot, page)
    return page


def _settle(qtbot, page: OptimizePage) -> None:
    qtbot.waitUntil(lambda: not page.live.busy(), timeout=20000)
    qtbot.wait(10)  # the result's queued signal


def _expected(page: OptimizePage, loaded):
    return estimate_steps(loaded.module, page.steps.values(), loaded.example_inputs(), loaded.task)


def test_a_burst_of_keystrokes_runs_one_estimate_on_a_worker_thread(qtbot, app_state, tiny_gpt):
    page = _page(qtbot, app_state, tiny_gpt)
    assert page.live.computations == 1  # the model arriving
    amount = page.steps.cards[0].form.editor("amount")
    amount.selectAll()
    qtbot.keyClicks(amount, "0.375")  # five keystrokes, each one a valid or invalid edit
    assert page.estimate_label.full_text().endswith("estimating…")
    _settle(qtbot, page)
    assert page.live.computations == 2
    assert threading.get_ident() not in page.live.worker_threads  # never on the GUI thread
    expected = _expected(page, tiny_gpt)
    assert page.estimate_label.full_text() == expected.text()
    assert expected.steps[0].sparsity == pytest.approx(0.375, abs=0.01)
    # the training form is not part of the estimate: editing it computes nothing
    page.train_form.editor("batch_size").setText("8")
    qtbot.wait(400)
    assert page.live.computations == 2 and not page.live.busy()


def test_stacked_steps_show_what_the_engine_estimate_returns(qtbot, app_state, tiny_gpt):
    page = _page(qtbot, app_state, tiny_gpt)
    page.steps.add_step("nm_prune")
    _settle(qtbot, page)
    assert page.steps.values() == (UnstructuredPruneConfig(), NMPruneConfig())
    expected = _expected(page, tiny_gpt)
    assert page.estimate_label.full_text() == expected.text()
    assert expected.text().startswith("Non-zero parameters after pruning:")
    for card, step in zip(page.steps.cards, expected.steps, strict=True):
        assert card.figure.text() == step_figure(step, expected.dense_params)
        assert not card.figure.isHidden() and card.problems() == []
    # 50% then 2:4 compose: the second step's sparsity is above the first's
    assert expected.steps[1].sparsity > expected.steps[0].sparsity + 0.05
    assert f"{expected.steps[1].sparsity:.1%} sparse" in page.steps.cards[1].figure.text()


def test_a_refused_step_order_is_shown_on_its_card_before_run(qtbot, app_state, tiny_gpt):
    page = _page(qtbot, app_state, tiny_gpt)
    page.steps.add_step("structured_prune")  # a shrinking step after a masking one
    _settle(qtbot, page)
    card = page.steps.cards[1]
    assert not card.problem.isHidden()
    assert "cannot follow a masking step (Step 1)" in card.problem.text()
    assert page.steps.cards[0].problem.isHidden()
    assert not page.run_button.isEnabled()
    assert page.error_label.full_text().startswith("Cannot run yet — Step 2 · methods[1]")
    # the banner says which step stops the estimate; the reason is on its card, not twice
    assert page.estimate_label.full_text() == "No estimate: Step 2 cannot be applied as the steps stand"
    page.steps.move(card, -1)  # the fix the message names
    _settle(qtbot, page)
    assert all(c.problem.isHidden() for c in page.steps.cards)
    assert page.run_button.isEnabled()
    assert isinstance(page.steps.values()[0], StructuredPruneConfig)
    expected = _expected(page, tiny_gpt)
    assert page.estimate_label.full_text() == expected.text()
    assert expected.steps[0].params < expected.dense_params  # the cut shrank the model


def test_only_the_newest_request_is_shown(qtbot, tiny_gpt):
    gate = threading.Event()

    def held(module, methods, example, task):
        gate.wait(10)  # the first computation is still running when the next edit comes
        return engine_estimator(module, methods, example, task)

    live = LiveEstimate(held, delay_ms=0)
    shown: list = []
    live.ready.connect(lambda result, methods: shown.append(methods))
    first, second = (UnstructuredPruneConfig(amount=0.2),), (UnstructuredPruneConfig(amount=0.6),)
    live.request(tiny_gpt.module, first, tiny_gpt.example_inputs, tiny_gpt.task)
    qtbot.waitUntil(lambda: live.computations == 1)
    live.request(tiny_gpt.module, second, tiny_gpt.example_inputs, tiny_gpt.task)
    gate.set()
    qtbot.waitUntil(lambda: bool(shown), timeout=20000)
    qtbot.waitUntil(lambda: not live.busy(), timeout=20000)
    assert shown == [second] and live.computations == 2


def test_waiting_for_a_running_estimate_ends_when_it_does(qtbot, tiny_gpt):
    """Closing the window waits for workers on the GUI thread: that must not deadlock."""
    import time

    live = LiveEstimate(delay_ms=0)
    live.request(tiny_gpt.module, (UnstructuredPruneConfig(),), tiny_gpt.example_inputs, tiny_gpt.task)
    qtbot.waitUntil(lambda: live.computations == 1)
    start = time.perf_counter()
    assert live.wait(20000)  # blocks the GUI thread, as wait_all() does at exit
    assert time.perf_counter() - start < 10
