"""The Optimize banner's note line: what a step will do differently from what was asked and
risky choices, from the engine's estimate, before anything runs."""

from __future__ import annotations

from engine.estimate import estimate_steps
from engine.methods.prune.structured import StructuredPruneConfig
from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.models.builtin import build_tiny_module, tiny_loaded
from gui.pages.optimize_page import OptimizePage
from gui.state import ModelInfo


def _settle(qtbot, page: OptimizePage) -> None:
    qtbot.waitUntil(lambda: not page.live.busy(), timeout=20000)
    qtbot.wait(10)  # the result's queued signal


def test_risky_importance_on_a_causal_lm_is_noted_under_the_estimate(qtbot, app_state):
    loaded = tiny_loaded("tiny-gpt", build_tiny_module("tiny-gpt"))  # a causal LM
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    app_state.set_model(ModelInfo(loaded, None))
    _settle(qtbot, page)
    notes = page.banner.note_line
    assert notes.full_text() == ""  # unstructured pruning: nothing to note
    cfg = StructuredPruneConfig(importance="l1")
    page.steps.set_steps((cfg,))
    _settle(qtbot, page)
    expected = estimate_steps(loaded.module, (cfg,), loaded.example_inputs(), loaded.task)
    assert notes.full_text() == "Note: " + "  ·  ".join(expected.notes())
    assert notes.full_text().startswith("Note: Step 1: importance l1 is risky on a causal LM")
    assert not notes.isHidden() and page.run_button.isEnabled()  # a note, not a refusal
    page.steps.set_steps((UnstructuredPruneConfig(),))
    _settle(qtbot, page)
    assert notes.full_text() == ""


def test_auto_importance_note_follows_the_data_form(qtbot, app_state):
    loaded = tiny_loaded("tiny-gpt", build_tiny_module("tiny-gpt"))
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    app_state.set_model(ModelInfo(loaded, None))
    page.steps.set_steps((StructuredPruneConfig(),))  # importance auto
    _settle(qtbot, page)
    notes = page.banner.note_line
    assert page.data_form.value().source == "builtin"
    assert notes.full_text() == "Note: Step 1: importance auto: taylor (a causal LM with data)"
    page.data_form.editor("source").setCurrentText("none")  # no data: auto falls back to l1
    _settle(qtbot, page)
    assert notes.full_text().startswith("Note: Step 1: importance auto falls back to l1")
