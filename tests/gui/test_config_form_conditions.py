"""Forms show a schedule's or a criterion's settings only when they apply."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.methods.prune.nm import NMPruneConfig  # noqa: E402
from engine.methods.prune.unstructured import UnstructuredPruneConfig  # noqa: E402
from gui.widgets.config_form import ConfigForm  # noqa: E402


def _shown(form: ConfigForm, name: str) -> bool:
    return not form.editor(name).parentWidget().isHidden()


def test_schedule_fields_follow_the_schedule(qtbot):
    form = ConfigForm(UnstructuredPruneConfig, path="methods[0]")
    qtbot.addWidget(form)
    form.show()
    assert not _shown(form, "update_every") and not _shown(form, "rounds")
    form.set_field("schedule", "gradual")
    assert _shown(form, "update_every") and _shown(form, "end_step") and not _shown(form, "rounds")
    form.set_field("schedule", "iterative")
    assert _shown(form, "rounds") and not _shown(form, "update_every")
    form.set_field("mode", "threshold")
    assert _shown(form, "threshold") and not _shown(form, "amount")
    # a cross-field error is still shown next to its field
    assert "threshold mode prunes once" in form.field_error("schedule")
    form.set_field("schedule", "oneshot")
    assert form.value() == UnstructuredPruneConfig(mode="threshold", rounds=3)


def test_nm_form_validates_n_below_m(qtbot):
    form = ConfigForm(NMPruneConfig, path="methods[0]")
    qtbot.addWidget(form)
    form.set_field("n", 4)
    assert form.value() is None and "must be less than m" in form.field_error("n")
    assert not _shown(form, "calibration_batches")
    form.set_field("criterion", "taylor")
    assert _shown(form, "calibration_batches")


def test_hidden_fields_keep_what_was_loaded_not_what_was_typed_there(qtbot):
    loaded = UnstructuredPruneConfig(amount=0.3)
    form = ConfigForm(UnstructuredPruneConfig, loaded, path="methods[0]")
    qtbot.addWidget(form)
    form.show()
    form.set_field("schedule", "iterative")
    form.editor("rounds").setText("7")
    assert form.value().rounds == 7
    form.editor("rounds").setText("many")  # left broken, then hidden by the next choice
    assert form.value() is None and form.field_error("rounds")
    form.set_field("schedule", "oneshot")
    # the hidden rounds neither blocks the form with an error nobody can see nor leaks into it
    assert form.value() == loaded and form.errors() == []
    form.set_field("schedule", "iterative")
    assert form.value() is None  # shown again: the typed text counts again
    form.editor("rounds").setText("5")
    assert form.value() == UnstructuredPruneConfig(amount=0.3, schedule="iterative", rounds=5)
