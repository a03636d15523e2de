"""Optimize page: the quantization steps come from the registry and show only the settings that apply."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from engine.estimate import StepEstimate, StepsEstimate  # noqa: E402
from gui.widgets.method_steps import MethodStepList, family_title, step_figure  # noqa: E402

QUANTIZE = ("int8_dynamic", "int8_static", "int4_weight_only", "fp16")
CALIBRATION = ("calibration_method", "calibration_samples", "calibration_seed", "percentile")


@pytest.fixture
def steps(qtbot):
    w = MethodStepList()
    qtbot.addWidget(w)
    w.show()
    return w


def _menu_sections(steps: MethodStepList) -> dict[str, list[str]]:
    """{section title: [action texts]} as the Add-step menu shows them."""
    out: dict[str, list[str]] = {}
    current = ""
    for action in steps.add_button.menu().actions():
        if action.isSeparator():
            current = action.text()
            out[current] = []
        else:
            out.setdefault(current, []).append(action.text())
    return out


def test_the_add_step_menu_lists_the_four_quantize_steps_in_their_own_section(steps):
    sections = _menu_sections(steps)
    title = family_title("quantize")
    assert title == "Quantization"
    labels = sections[title]
    assert len(labels) == 4
    assert [lab.split()[0].lower() for lab in labels] == ["int8", "int8", "int4", "fp16"]
    # and each entry adds its step
    for action in steps.add_button.menu().actions():
        if action.text() in labels:
            action.trigger()
    assert [c.entry.type_name for c in steps.cards] == list(QUANTIZE)


def _shown(card, name: str) -> bool:
    row = card.form._rows[name]
    return row.box.isVisibleTo(card.form) and row.label.isVisibleTo(card.form)


def test_static_form_shows_percentile_only_for_percentile_calibration(qtbot, steps):
    card = steps.add_step("int8_static")
    assert _shown(card, "calibration_method") and _shown(card, "calibration_samples")
    assert not _shown(card, "percentile")
    card.form.set_field("calibration_method", "percentile")
    assert _shown(card, "percentile")
    card.form.set_field("calibration_method", "entropy")
    assert not _shown(card, "percentile")


def test_dynamic_form_has_no_calibration_fields(steps):
    card = steps.add_step("int8_dynamic")
    names = set(card.form._rows)
    assert not names & set(CALIBRATION)
    assert _shown(card, "per_channel")


def test_an_artifact_step_says_it_acts_on_the_exported_file():
    step = StepEstimate("Step 1 · int8", 0, 100, 100, 0.0, artifact=True)
    assert "exported ONNX file" in step_figure(step, 100)
    assert StepsEstimate(100, [step]).text().startswith("Parameters: 100, unchanged in PyTorch")


def test_a_model_step_after_a_quantize_step_shows_the_order_error(qtbot, steps):
    from engine.registry import order_errors

    steps.add_step("int8_dynamic")
    steps.add_step("unstructured_prune")
    errors = order_errors(list(steps.values()))
    assert errors and "move this step before Step 1" in errors[0].message
