"""Model page: real built-in load, numeric sorting, chart, and bad/untrusted files."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from torch import nn  # noqa: E402

from engine.recipe import ModelSpec  # noqa: E402
from gui.pages.model_page import ModelPage  # noqa: E402
from gui.state import AppState  # noqa: E402
from gui.widgets.anatomy_picker import infer_source, parse_shape  # noqa: E402

LOAD_MS = 60_000


class _RunsCode:
    """A pickle payload that would run a shell command if it were ever unpickled."""

    def __reduce__(self):
        return (os.system, ("touch /nonexistent-should-never-run",))


@pytest.fixture
def page(qtbot, tmp_path):
    state = AppState(tmp_path / "ws")
    w = ModelPage(state)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


def _wait_loaded(qtbot, page: ModelPage) -> None:
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=LOAD_MS)


def test_builtin_tiny_gpt_loads_into_table_chart_and_recipe(qtbot, page):
    page.load_spec(ModelSpec(source="builtin", path="tiny-gpt"))
    assert page.is_busy() and not page.picker.busy.isHidden()
    _wait_loaded(qtbot, page)
    info = page.state.model_info
    assert info is not None and page.picker.error.text() == ""
    assert page.table.proxy.rowCount() == len(info.summary.layers)
    assert 0 < page.chart.bar_count() <= 15
    assert page.state.recipe.model == ModelSpec(source="builtin", path="tiny-gpt")
    assert f"{info.summary.total_params:,}" in page.header.tiles["Parameters"].value.text()
    assert page.stack.currentIndex() == 1


def test_params_column_sorts_numerically_and_filter_narrows(qtbot, page):
    page.load_spec(ModelSpec(source="builtin", path="tiny-gpt"))
    _wait_loaded(qtbot, page)
    proxy = page.table.proxy
    page.table.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    values = [proxy.index(r, 2).data(Qt.ItemDataRole.UserRole) for r in range(proxy.rowCount())]
    assert values == sorted(values, reverse=True)
    # text order would put "256" above "16,512"; numeric order must not
    shown = [proxy.index(r, 2).data() for r in range(proxy.rowCount())]
    assert shown.index("256") > shown.index("16,512")
    page.table.filter.setText("attn")
    assert 0 < proxy.rowCount() < len(page.state.model_info.summary.layers)
    assert all("attn" in proxy.index(r, 0).data() for r in range(proxy.rowCount()))


def test_text_file_named_pt_shows_red_error(qtbot, page, tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("this is not a model\n" * 20)
    page.load_path(bad)
    _wait_loaded(qtbot, page)
    assert page.picker.error.isVisible()
    assert "not a readable PyTorch checkpoint" in page.picker.error.text()
    assert "c62828" in page.picker.error.styleSheet()
    assert not page.picker.trust.isVisible()
    assert page.state.model_info is None


def test_unknown_extension_and_empty_folder_are_explained(qtbot, page, tmp_path):
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    page.load_path(other)
    assert "unknown model file type" in page.picker.error.text()
    page.load_path(tmp_path)
    assert "config.json" in page.picker.error.text()
    assert not page.is_busy()


def test_code_running_pickle_is_refused_and_trust_loads_a_module(qtbot, page, tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"weights": _RunsCode()}, evil)
    page.load_path(evil)
    _wait_loaded(qtbot, page)
    assert "arbitrary code" in page.picker.error.text()
    assert page.picker.trust.isVisible() and not page.picker.trust.isChecked()
    assert page.state.model_info is None

    module_file = tmp_path / "seq.pt"
    torch.save(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), module_file)
    page.picker.shape.setText("1, 8")
    page.load_path(module_file)
    _wait_loaded(qtbot, page)
    assert page.picker.trust.isVisible(), page.picker.error.text()
    page.picker.trust.setChecked(True)  # the user's "Trust this file" re-loads with trust=True
    _wait_loaded(qtbot, page)
    assert page.picker.error.text() == ""
    assert page.state.recipe.model.trust is True
    assert page.state.model_info.summary.total_params == 8 * 16 + 16 + 16 * 4 + 4
    assert page.table.proxy.rowCount() == 2
    assert not page.picker.trust.isVisible()


def test_dropping_a_file_loads_it(qtbot, page, tmp_path):
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(b"not really safetensors")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(weights))])
    pos = QPointF(page.rect().center())
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dropEvent(drop)
    _wait_loaded(qtbot, page)
    assert "safetensors" in page.picker.error.text()  # it went through the safetensors loader


def test_torchscript_saved_as_pt_is_detected(tmp_path):
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(nn.Linear(4, 2)), scripted)
    plain = tmp_path / "weights.pt"
    torch.save(nn.Linear(4, 2).state_dict(), plain)
    assert infer_source(scripted) == "torchscript"
    assert infer_source(plain) == "torch"
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert infer_source(tmp_path / "hf") == "hf"
    assert parse_shape("[1, 3, 32, 32]") == (1, 3, 32, 32)
    assert parse_shape("") is None
