"""The Profile view's parts draw a record's numbers, say why an empty part is not measured,
and export PNG + CSV with the record's rows (a hand-built record in the #12 contract's shape)."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from gui.widgets.profile_view import ProfileView
from tests.gui.profile_fixture import profile_record


@pytest.fixture
def view(qtbot):
    v = ProfileView()
    qtbot.addWidget(v)
    v.resize(860, 620)
    v.show()
    return v


def test_time_per_layer_bars_are_the_slowest_layers_with_their_flop_share(view):
    record = profile_record()
    view.show_record(record)
    chart = view.layers
    by_time = sorted(record["layers"], key=lambda x: -x["time_ms"])
    assert chart.names == [x["name"] for x in by_time]  # slowest first
    assert chart.times == [x["time_ms"] for x in by_time]
    assert list(chart.bars.opts["width"]) == chart.times
    # the layer norm takes 43% of the time for <1% of the FLOPs: marked, the matmuls are not
    assert chart.slow == ["transformer.h.0.ln_1"]
    assert chart.labels[0] == "0.9 ms · <1% FLOPs ◀ slow"
    assert chart.labels[2] == "0.3 ms · 31% FLOPs"  # 8M of 26.04M FLOPs
    brushes = list(chart.bars.opts["brushes"])
    assert brushes[0] == "#e08a2c" and brushes[1] == "#4a7fc1"  # memory- vs compute-bound
    assert "95%" in chart.total.text()  # 2.1 ms of layers in 2.2 ms whole


def test_verdicts_memory_latency_ops_and_energy_show_the_record(view):
    record = profile_record()
    view.show_record(record)
    assert view.verdicts.sentences == [g["verdict"] for g in record["groups"]]
    assert "Norm layers are memory-bound" in view.verdicts.text.text()
    assert "50 GFLOP/s matmul" in view.verdicts.text.text()
    assert view.memory.values == {"parameters": 0.5, "buffers": 0.1, "activation peak": 1.5, "KV cache": 0.03125}
    p50 = view.latency.drawn[("int8", 32, "p50_ms")]
    assert p50 == ([1.0, 4.0], [1.4, 5.6])
    assert view.latency.drawn[("pytorch", 16, "samples_per_s")] == ([1.0, 4.0], [500.0, 500.0])
    runtimes = [view.ops.table.item(r, 0).text() for r in range(view.ops.table.rowCount())]
    assert runtimes == ["PyTorch"] * 3 + ["ONNX int8"] * 2
    assert view.ops.table.item(0, 1).text() == "aten::addmm"
    view.ops.runtime.setCurrentText("ONNX int8")  # one runtime at a time
    assert [view.ops.table.item(r, 1).text() for r in range(view.ops.table.rowCount())] == ["MatMulInteger", "Softmax"]
    assert view.nodes.table.rowCount() == 1 and view.nodes.table.item(0, 1).text() == "/h.0/attn/MatMul"
    assert view.energy.lines[0].count("ESTIMATED") == 1 and "MEASURED" in view.energy.lines[1]
    assert "RAPL" in view.energy.lines[1]
    assert view.energy.bar_labels == ["0.033 J (estimated)", "0.013 J (measured)"]
    assert all(p.missing_text() == "" for p in view.parts())


def test_empty_parts_say_not_measured_instead_of_a_blank_plot(view):
    memory = {"params_mb": 1.0, "buffers_mb": 0.0, "activation_peak_mb": 2.0, "peak_source": "profiler",
              "kv_cache": None}
    view.show_record(profile_record(onnx=[], energy=[], latency=[], groups=[], memory=memory))
    assert view.latency.missing_text().startswith("Not measured: no batch × sequence sweep")
    assert view.energy.missing_text().startswith("Not measured: no power reading")
    assert view.verdicts.missing_text().startswith("Not measured:")
    assert view.layers.missing_text() == ""  # the layers are still there
    assert "KV cache" not in view.memory.values
    assert "KV cache: not measured" in view.memory.note.text()
    assert view.ops.note.text().startswith("ONNX: not measured")
    assert view.nodes.missing_text().startswith("Not measured: no ONNX file was profiled")
    view.show_record(profile_record())  # a full record again: nothing left over
    assert view.latency.missing_text() == "" and not view.ops.note.text()


def _rows(path):
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_export_writes_a_png_and_a_csv_per_part(view, tmp_path):
    record = profile_record()
    view.show_record(record)
    view.tabs.setCurrentIndex(2)
    files = view.export(tmp_path / "out")
    assert view.tabs.currentIndex() == 2  # the tab the user was on
    stems = ["time_per_layer", "verdicts", "memory", "latency", "op_types", "onnx_nodes", "energy"]
    assert sorted(f.name for f in files) == sorted([f"{s}.png" for s in stems] + [f"{s}.csv" for s in stems])
    for stem in stems:
        image = QImage(str(tmp_path / "out" / f"{stem}.png"))
        assert image.width() > 300 and image.height() > 100, stem
    layers = _rows(tmp_path / "out" / "time_per_layer.csv")
    assert layers[0][:4] == ["name", "type", "group", "time_ms"]
    assert [r[0] for r in layers[1:]][:2] == ["transformer.h.0.ln_1", "transformer.h.0.attn.c_attn"]
    assert layers[1][-1] == "True"  # slow for its FLOPs
    latency = _rows(tmp_path / "out" / "latency.csv")
    assert len(latency) == 1 + len(record["latency"])
    assert latency[1] == ["pytorch", "1", "16", "2.0", "2.4", "500.0"]
    energy = _rows(tmp_path / "out" / "energy.csv")
    assert [r[1] for r in energy[1:]] == ["estimated", "measured"]
    assert _rows(tmp_path / "out" / "onnx_nodes.csv")[1] == ["int8", "/h.0/attn/MatMul", "MatMulInteger", "0.2"]
    ops = _rows(tmp_path / "out" / "op_types.csv")
    assert ops[4][:2] == ["ONNX int8", "MatMulInteger"]


def test_latency_pens_p50_solid_p95_dashed(view):
    view.show_record(profile_record())
    styles = {item.opts["pen"].style() for item in view.latency.latency_plot.getPlotItem().listDataItems()}
    assert styles == {Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine}
    assert len(view.latency.latency_plot.getPlotItem().listDataItems()) == 2 * 4  # 2 artifacts × 2 seqs
