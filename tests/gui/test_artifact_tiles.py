"""Export page's Deployable-files tiles on a real dynamic-int8 run of the tiny GPT."""

from __future__ import annotations

import pytest

from engine.store import Workspace
from tests.gui.quantized_run import quantized_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root, run_id = quantized_run(tmp_path_factory)
    return root, Workspace(root).get(run_id)


def test_one_tile_per_file_with_the_cards_own_numbers(qtbot, run):
    from gui.widgets.artifact_tiles import ArtifactTiles

    _root, variant = run
    fp32, int8 = variant.card["artifacts"]
    tiles = ArtifactTiles()
    qtbot.addWidget(tiles)
    tiles.show_card(variant.card)
    assert [t.kind for t in tiles.tiles] == ["onnx-fp32", "onnx-int8-dynamic"]
    assert tiles.has_quantized()
    first, second = tiles.tiles
    assert "fp32" in first.title.text() and "int8 dynamic" in second.title.text()
    # sizes and the ratio against fp32, as measured on the files
    assert f"{int8['size_bytes'] / 1e6:.2f} MB" in second.text("size")
    assert f"{int8['size_bytes'] / fp32['size_bytes']:.2f}× fp32" in second.text("size")
    assert f"p50 {int8['latency_ms_p50']:.2f} ms" in second.text("latency")
    assert f"{int8['speedup_vs_fp32']:.2f}× fp32's speed" in second.text("latency")
    assert "timed side by side" in second.text("latency")
    # the int8 file's own perplexity (run in onnxruntime) next to the fp32 file's
    own, base = int8["metrics"]["perplexity"], fp32["metrics"]["perplexity"]
    assert f"perplexity {own:.4g}" in second.text("metric")
    assert f"vs fp32 {base:.4g}" in second.text("metric")
    assert f"cosine {int8['cosine']:.4f}" in second.text("parity")
    assert f"top-1 {int8['top1_agreement']:.1%}" in second.text("parity")
    assert ("passed" in second.text("checker")) == bool(int8["checker_ok"])


def test_the_truth_check_shows_the_verdict_and_every_reason(qtbot, run):
    from gui.widgets.artifact_tiles import ArtifactTiles, plain

    _root, variant = run
    int8 = variant.card["artifacts"][1]
    entry = next(e for e in variant.card["shrink"]["artifacts"] if e["kind"] == "onnx-int8-dynamic")
    tiles = ArtifactTiles()
    qtbot.addWidget(tiles)
    tiles.show_card(variant.card)
    tile = tiles.tiles[1]
    assert entry["verdict"].split(": ", 1)[1] in plain(tile.verdict.text())
    for line in [*entry["reasons"], *(int8.get("notes") or [])]:
        assert line in tile.lines
    assert tiles.tiles[0].verdict.isHidden()  # the fp32 file is the reference: no verdict


def test_export_page_opens_on_the_files_tab_and_fits_1024_by_700(qtbot, run, tmp_path):
    from gui.widgets.export_details import ExportDetails
    from tests.gui.quantized_run import export_window

    root, variant = run
    window, _state = export_window(qtbot, root, variant.id, tmp_path / "s.ini")
    details = window.findChild(ExportDetails)
    tabs = details.tabs
    assert tabs.tabText(0) == "Files" and tabs.currentIndex() == 0
    assert tabs.isTabVisible(tabs.indexOf(details.node_errors_tab))
    area = details.file_tiles

    def laid_out() -> bool:  # every tile wrapped to the visible width, none cut off
        return area.viewport().width() > 300 and all(
            0 < t.geometry().right() <= area.viewport().width() for t in area.tiles)

    qtbot.waitUntil(laid_out)
    assert window.width() <= 1024
    assert all(t.width() > 300 for t in area.tiles)
