"""The Profile page: a real profile of tiny-gpt through run_profile fills it and is stored with
the variant, Cancel stops a run, a stored profile.json shows again, and the page fits 1024 × 700."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from engine.analysis.profile_store import load_profile, save_profile
from gui.pages.model_page import load_and_summarize
from gui.pages.profile_page import ProfilePage
from gui.state import AppState
from gui.widgets.profile_job import MODEL
from tests.gui.conftest import fast_recipe
from tests.gui.profile_fixture import profile_record

RUN_MS = 120_000
QUICK = {"seq": 16, "runs": 1, "threads": 1, "sweep_batches": (1, 2), "sweep_seqs": (8,),
         "sweep_runs": 1, "energy_seconds": 0.05}


def _variant(state: AppState, name: str) -> str:
    """A finished variant with a card and no files (enough to store and show a profile)."""
    v = state.workspace.new_run(name, state.recipe.to_yaml())
    state.workspace.finish(v.id, {"method": "none"})
    return v.id


@pytest.fixture(scope="module")
def tiny_gpt_info(qapp, tmp_path_factory):
    """tiny-gpt loaded and summarized once, as the Model page does."""
    ws = tmp_path_factory.mktemp("profile-ws")
    state = AppState(ws, fast_recipe())
    info, _what = load_and_summarize(state.recipe.model, state.workspace)
    return ws, info


@pytest.fixture
def page(qtbot, tiny_gpt_info):
    ws, info = tiny_gpt_info
    state = AppState(ws, fast_recipe())
    page = ProfilePage(state)
    qtbot.addWidget(page)
    yield page
    page.cancel()
    page.wait()


def _quick(page: ProfilePage) -> None:
    for name, value in QUICK.items():
        page.form.set_field(name, value)
    assert page.form.value() is not None, page.form.errors()


def test_profile_of_the_loaded_model_fills_the_page_and_is_stored_with_its_variant(qtbot, page, tiny_gpt_info):
    import dataclasses

    _ws, info = tiny_gpt_info
    run_id = _variant(page.state, "loaded-variant")
    # the loaded model is that variant (as after loading it on the Model page)
    page.state.set_model(dataclasses.replace(info, variant=page.state.workspace.get(run_id)))
    page.choose(MODEL)
    assert page.combo.currentText().startswith("Loaded model: tiny-gpt")
    _quick(page)
    progress: list[float] = []
    assert page.start()
    page.job.progress.connect(lambda f, _t: progress.append(f))
    assert page.is_busy() and not page.profile_btn.isEnabled() and page.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=RUN_MS)
    assert not page.error.isVisible(), page.error.text()
    record = page.view.record
    assert record is not None and record["model"]["task"] == "causal-lm"
    assert progress and max(progress) == pytest.approx(1.0)
    # the charts drew this run's numbers
    timed = [x for x in record["layers"] if x["time_ms"] > 0]
    assert len(page.view.layers.names) == min(12, len(timed))
    assert page.view.layers.times[0] == max(x["time_ms"] for x in timed)
    p50 = [(p["batch"], p["p50_ms"]) for p in record["latency"] if p["artifact"] == "pytorch"]
    assert page.view.latency.drawn[("pytorch", 8, "p50_ms")] == ([float(b) for b, _ in p50], [m for _, m in p50])
    assert page.view.memory.values["KV cache"] == record["memory"]["kv_cache"]["mb"] > 0
    labels = [e["label"] for e in record["energy"]]
    assert [line.count(lab.upper()) for line, lab in zip(page.view.energy.lines, labels, strict=True)] == [1] * len(labels)
    assert page.view.ops.note.isVisibleTo(page.view.ops)  # no ONNX file: said so under the table
    assert load_profile(page.state.workspace, run_id) == record  # stored as the variant's profile.json
    assert "stored with the variant" in page.log.text()
    page.state.set_model(info)  # another model loaded: the profile shown was not of it
    assert page.current_key() == MODEL and page.stack.currentWidget() is page.empty


def test_cancel_stops_the_profile(qtbot, page, tiny_gpt_info):
    _ws, info = tiny_gpt_info
    page.state.set_model(info)
    page.choose(MODEL)
    _quick(page)
    assert page.start()
    page.cancel()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=RUN_MS)
    assert page.error.text() == "Profile cancelled."
    assert page.view.record is None and page.stack.currentWidget() is page.empty
    assert page.profile_btn.isEnabled() and not page.cancel_btn.isEnabled()


def test_a_stored_profile_shows_when_its_variant_is_picked(qtbot, page):
    run_id = _variant(page.state, "stored-profile")
    save_profile(page.state.workspace, run_id, profile_record())
    bare = _variant(page.state, "no-profile")
    page.state.variants_changed.emit()
    page.choose(run_id)
    assert page.stack.currentWidget() is page.view and page.export_btn.isEnabled()
    assert page.view.layers.names[0] == "transformer.h.0.ln_1"
    page.state.select_variant(bare)  # picked on the Export or Compare page: followed here
    assert page.current_key() == bare
    assert page.stack.currentWidget() is page.empty and not page.export_btn.isEnabled()
    (page.state.workspace.run_dir(bare) / "profile.json").write_text("{not json")
    page.choose(run_id)
    page.choose(bare)
    assert "not a profile" in page.error.text() and "profile the variant again" in page.error.text()


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_the_profile_page_fits_the_window(qtbot, tmp_path, size):
    from gui.main_window import MainWindow

    state = AppState(tmp_path / "ws", fast_recipe())
    window = MainWindow(state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    window.show_page("Profile")
    window.profile_page.show_record(profile_record())
    area = window.stack.currentWidget()
    assert area.widget() is window.profile_page
    for tab in range(window.profile_page.view.tabs.count()):
        window.profile_page.view.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        assert window.width() == size[0] and window.height() == size[1]
        assert not area.verticalScrollBar().isVisible() and not area.horizontalScrollBar().isVisible(), tab
    window.profile_page.view.tabs.setCurrentIndex(0)
    qtbot.wait(20)
    chart = window.profile_page.view.layers.plot
    assert chart.width() > 400 and chart.height() > 250  # the charts get the room, not the form
    latency = window.profile_page.view.latency
    stacked = latency.plots.direction() == latency.plots.Direction.TopToBottom
    assert stacked == (size[0] == 1024)  # side by side only where they have the width
    width = chart.width()
    window.profile_page.settings_btn.click()  # hide the settings: the charts take their width
    qtbot.wait(20)
    assert not window.profile_page.settings.isVisible() and chart.width() > width + 200


def test_profile_of_a_variant_loads_it_and_profiles_its_onnx_file(qtbot, page, tiny_gpt_info):
    from tests.engine.quantize.tiny_onnx import export_text

    _ws, info = tiny_gpt_info
    state = page.state
    v = state.workspace.new_run("baseline-onnx", state.recipe.replace(methods=()).to_yaml())
    onnx = export_text(info.loaded.module, state.workspace.run_dir(v.id) / "model.onnx", vocab=258)
    state.workspace.finish(v.id, {"method": "none", "onnx": {"path": str(onnx)}})
    state.variants_changed.emit()
    page.choose(v.id)
    assert page.source().loaded is None  # loaded by the worker, not on the GUI thread
    assert page.source().artifacts == (("onnx-fp32", onnx),)
    _quick(page)
    assert page.start()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=RUN_MS)
    assert not page.error.isVisible(), page.error.text()
    record = page.view.record
    assert [o["artifact"] for o in record["onnx"]] == ["onnx-fp32"]
    assert ("onnx-fp32", 8, "p50_ms") in page.view.latency.drawn  # PyTorch vs the ONNX file
    assert ("pytorch", 8, "p50_ms") in page.view.latency.drawn
    assert page.view.nodes.missing_text() == "" and page.view.nodes.table.rowCount() > 0
    assert [e["artifact"] for e in record["energy"]] == ["pytorch", "onnx-fp32"]
    assert load_profile(state.workspace, v.id) == record
