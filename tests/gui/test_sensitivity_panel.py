"""The sensitivity panel on the Optimize page: a real background analysis of tiny-gpt, one curve
per layer, a proposal meeting the target, and Apply writing the pruning step's overrides."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.sensitivity import SensitivityResult, overall_sparsity
from gui.pages.optimize_page import OptimizePage

TINY_GPT_LAYERS = [f"blocks.{b}.{part}" for b in range(4)
                   for part in ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")]


@pytest.fixture
def page(qtbot, app_state):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    return page


def test_panel_analyses_plots_and_applies(qtbot, page, app_state):
    panel = page.open_sensitivity()
    assert page.open_sensitivity() is panel  # one panel per page, kept with its result
    panel.levels_edit.setText("0.5, 0.9")
    panel.batches_spin.setValue(1)
    seen: list[float] = []
    panel.progress_changed.connect(lambda f, _m: seen.append(f))
    assert panel.start()
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)  # the GUI loop keeps running
    assert panel.result is not None, panel.status.text()
    assert len(seen) == 2 + 16 * 2 and seen == sorted(seen)  # baseline, layers x levels, done
    assert seen[0] == 0.0 and seen[-1] == 1.0

    result = panel.result
    assert list(result.curves) == TINY_GPT_LAYERS and result.metric == "perplexity"
    assert set(panel.plot.curves) == set(TINY_GPT_LAYERS)
    assert len(panel.plot.getPlotItem().listDataItems()) == 16  # one curve per layer, no extras
    for name, curve in panel.plot.curves.items():
        xs, _ = curve.getData()
        assert list(xs) == [0.0, 0.5, 0.9], name  # the dense point, then each level
    assert panel.table.rowCount() == 16
    assert panel.table.item(0, 0).data(Qt.ItemDataRole.UserRole) == "blocks.0.attn.qkv"
    assert abs(overall_sparsity(result, panel.proposal) - 0.5) < 0.005

    panel.target_spin.setValue(70.0)  # re-proposes without re-running
    assert abs(overall_sparsity(result, panel.proposal) - 0.7) < 0.005
    assert panel.summary.text().startswith("Proposal: 70.0% overall over 16 layers")
    panel.table.selectRow(3)
    assert panel.plot.curves["blocks.0.mlp.proj"].opts["pen"].widthF() == 4

    panel.apply_button.click()
    step = app_state.recipe.methods[0]
    assert isinstance(step, UnstructuredPruneConfig)
    assert step.overrides == panel.proposal and step.amount == 0.7
    assert page.steps.cards[0].form.value().overrides == panel.proposal  # the form shows it
    assert page.run_button.isEnabled()  # the applied recipe is valid as it stands
    assert "Applied to step 1" in panel.status.text()
    panel.reject()


def test_apply_creates_a_pruning_step_when_there_is_none(qtbot, page, app_state):
    app_state.set_recipe(app_state.recipe.replace(methods=()))
    assert not page.steps.cards
    panel = page.open_sensitivity()
    names = TINY_GPT_LAYERS[:4]
    # a finished analysis as the CLI's --json would give it: the first layer is fragile
    result = SensitivityResult(
        metric="perplexity", higher_is_better=False, baseline=10.0,
        curves={n: [(0.5, 10.0 if i else 40.0), (0.9, 10.5 if i else 400.0)] for i, n in enumerate(names)},
        sizes={n: 1000 for n in names}, levels=(0.5, 0.9),
    )  # fmt: skip
    panel.show_result(result)
    assert panel.proposal["blocks.0.attn.qkv"] == 0.0
    assert abs(overall_sparsity(result, panel.proposal) - 0.5) < 0.005
    assert panel.plot.curves["blocks.0.attn.qkv"].zValue() == 2  # the fragile layer is drawn hot
    panel.apply()
    assert len(page.steps.cards) == 1
    step = app_state.recipe.methods[0]
    assert isinstance(step, UnstructuredPruneConfig) and step.overrides == panel.proposal
    panel.reject()


def test_cancel_and_bad_levels(qtbot, page):
    panel = page.open_sensitivity()
    panel.levels_edit.setText("0.5, 2")
    assert not panel.start()
    assert "every level must be a sparsity in (0, 1], got 2" in panel.status.text()
    panel.levels_edit.setText("0.5, abc")
    assert not panel.start() and "levels must be numbers" in panel.status.text()

    panel.levels_edit.setText("0.5")
    assert panel.start()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    assert panel.status.text() == "Cancelled." and panel.result is None
    assert panel.run_button.isEnabled() and not panel.apply_button.isEnabled()

    assert panel.start()
    page.window().close()  # closing the main window stops the analysis it would wait for
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    assert panel.status.text() == "Cancelled." and panel.result is None


def test_pause_holds_the_analysis_and_resume_finishes_it(qtbot, page):
    panel = page.open_sensitivity()
    panel.levels_edit.setText("0.5, 0.9")
    assert not panel.pause_button.isEnabled()  # nothing to pause yet
    assert panel.start() and panel.pause_button.isEnabled()
    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume" and panel.status.text().startswith("Paused")
    fractions: list[float] = []
    panel.call.progress.connect(lambda f, _m: fractions.append(f))
    qtbot.wait(2500)  # the measurement under way may end; none starts after it
    held = len(fractions)
    qtbot.wait(1500)
    assert len(fractions) == held and panel.call is not None and panel.result is None
    assert panel.status.text().startswith("Paused")  # progress did not overwrite it
    panel.pause_button.click()
    assert panel.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    assert panel.result is not None and panel.result.levels == (0.5, 0.9)
    assert not panel.pause_button.isEnabled() and panel.pause_button.text() == "Pause"

    assert panel.start()  # Cancel while paused: the held scan wakes and stops
    panel.pause_button.click()
    panel.cancel_button.click()
    assert not panel.pause_button.isEnabled()
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    assert panel.status.text() == "Cancelled."


def test_noise_is_shown_per_layer_and_warned_about(qtbot, page, app_state, tmp_path):
    """An untrained tiny-gpt (a bare state_dict file): every change is noise, the panel says so."""
    from safetensors.torch import save_file

    from engine.models.builtin import load_builtin
    from engine.recipe import ModelSpec

    state = load_builtin("tiny-gpt", pretrained=False).module.state_dict()
    path = tmp_path / "untrained.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = ModelSpec(source="safetensors", path=str(path), architecture="tiny-gpt")
    app_state.set_recipe(app_state.recipe.replace(model=model))
    panel = page.open_sensitivity()
    panel.levels_edit.setText("0.9")
    panel.batches_spin.setValue(3)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.call is None, timeout=60_000)
    assert panel.result is not None, panel.status.text()
    assert "noise = 2 standard errors of each change over 3 paired batches" in panel.status.text()
    assert not panel.noise_label.isHidden()
    assert "no better than predicting token frequencies" in panel.noise_label.text()
    assert panel.table.horizontalHeaderItem(3).text() == "vs noise"
    assert {panel.table.item(r, 3).text() for r in range(16)} == {"within"}
    assert "cannot be ranked" in panel.table.item(0, 3).toolTip()
    assert len(set(panel.proposal.values())) <= 2  # even, up to the last step's rounding
    assert panel.summary.text().endswith("no layer stands out of the noise")
    pens = [curve.opts["pen"] for curve in panel.plot.curves.values()]
    assert all(pen.style() == Qt.PenStyle.DotLine for pen in pens)  # no curve drawn as a signal

    # a real trained model afterwards: the warning goes away
    result = SensitivityResult(
        metric="perplexity", higher_is_better=False, baseline=6.0,
        curves={"a.fc": [(0.9, 6.01)], "b.fc": [(0.9, 9.0)]}, sizes={"a.fc": 100, "b.fc": 100},
        levels=(0.9,), noise={"a.fc": [0.01], "b.fc": [0.05]},
    )  # fmt: skip
    panel.show_result(result)
    assert panel.noise_label.isHidden()
    assert [panel.table.item(r, 3).text() for r in range(2)] == ["within", "beyond"]
    assert panel.plot.curves["a.fc"].opts["pen"].style() == Qt.PenStyle.DotLine
    assert panel.plot.curves["b.fc"].zValue() == 2  # the sensitive layer is drawn hot
    panel.reject()
