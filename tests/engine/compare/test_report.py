"""`workbench-cli report`: a self-contained HTML report on a real tiny parent and its pruned,
int8-quantized child (the shared pair), checked as a file: no external links, every image a
PNG that decodes, the cards' numbers, recipe diff, lineage, flowchart, target checks and
environment in it; bad input is one line and exit 2; an old report is replaced whole.
(tests/gui/test_report_chromium.py opens the same kind of file in Chromium.)"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import re

import markupsafe
import pytest
from PIL import Image

from engine.cli import main
from engine.compare.pareto import metric_front
from engine.compare.report_data import report_data
from engine.compare.report_plots import pareto_points
from engine.store import Workspace
from tests.engine.compare.pair_workspace import exported_pair

# checked now by --target: cheap limits only (no latency or memory runs)
TINY_TARGET = "name: tiny-size\ndescription: 1 MB int8 only\nmax_size_mb: 1\nrequire_int8: true\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(html text, workspace, parent id, child id, the CLI's stdout)."""
    root, a, b = exported_pair(tmp_path_factory)
    (root / "targets").mkdir(exist_ok=True)  # a workspace target (the variants stay as they are)
    (root / "targets" / "tiny-size.yaml").write_text(TINY_TARGET)
    out = tmp_path_factory.mktemp("report") / "report.html"
    with contextlib.redirect_stdout(io.StringIO()) as buf:  # capsys is per test, this is per module
        code = main(["report", a, "cut", "--out", str(out), "--target", "tiny-size", "-w", str(root)])
    assert code == 0
    return out.read_text(encoding="utf-8"), Workspace(root), a, b, buf.getvalue()


def _images(html: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', html)


def test_report_is_one_file_with_png_images_and_no_external_links(report):
    html, *_, stdout = report
    assert "written to" in stdout and stdout.strip().endswith("report.html")
    links = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html)
    assert links and not [u for u in links if re.match(r"(?i)\s*(https?:)?//", u)]
    assert "<link" not in html and "@import" not in html and "url(" not in html
    images = _images(html)
    assert len(images) == 4  # Pareto vs latency, vs size; training curves of both variants
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        png.load()  # decodes the whole image, not only its header
        assert png.format == "PNG" and png.width > 300 and png.height > 200


def test_report_shows_cards_recipe_diff_lineage_flowchart_and_environment(report):
    html, ws, a, b, _ = report
    import torch

    cut = ws.get(b)
    int8 = next(x for x in cut.card["artifacts"] if x["kind"] == "onnx-int8-dynamic")
    assert f"{int8['size_bytes'] / 1e6:.2f} MB" in html  # the int8 file's own measured size
    assert "model.int8-dynamic.step2.onnx" in html and "onnx-fp32" in html
    assert 'methods[0]</td><td class="added">added' in html  # the recipe diff, cut against base
    assert "structured_prune(target=ffn, amount=0.5" in html
    assert "model.path</td><td class=\"changed\">changed</td>" in html.replace("\n", "")
    assert html.count('class="tnode variant finished reported"') == 2  # both in the lineage
    assert html.count('class="tnode artifact ok"') == 2  # cut's two files as leaves
    for label in ("Load", "Baseline", "1. Structured pruning ffn 50%", "Fine-tune", "Export",
                  "2. Int8 dynamic", "Check"):  # cut's flowchart, as recipe_flow orders it
        assert f'<div class="label">{label}</div>' in html
    assert f'<td class="mono">{torch.__version__}</td>' in html and ">onnxruntime<" in html
    verdict = cut.card["shrink"]["verdict"]  # against its parent (its wording follows the timings)
    assert verdict and str(markupsafe.escape(verdict)) in html


def test_target_checked_now_fails_fp32_size_and_passes_int8(report):
    html, *_ = report
    flat = re.sub(r"\s+", " ", html)
    assert re.search(r"FAIL</span> <b>onnx-fp32</b> on <b>tiny-size</b>", flat)
    assert re.search(r"PASS</span> <b>onnx-int8-dynamic</b> on <b>tiny-size</b>", flat)


def test_pareto_points_are_files_measured_on_their_own(report):
    _, ws, a, b, _ = report
    points = pareto_points([ws.get(a), ws.get(b)], "perplexity")
    assert [(p.label, p.kind) for p in points] == [
        ("base", "variant"), ("cut", "variant"), ("cut · int8-dynamic", "onnx-int8-dynamic")]
    sizes = [p.size for p in points]
    front = metric_front(sizes, [p.value for p in points], "perplexity")
    assert 2 in front and 0 in front  # the smallest file and the best perplexity


def test_stored_target_checks_are_shown_from_the_card(report):
    _, ws, a, _, _ = report
    stored = {"target": "edge", "artifact": "onnx-fp32", "passed": False, "proxy": True,
              "threads": 4, "requirements": [{"name": "int8 weights", "passed": False,
                                              "measured": 0, "limit": "int8 required", "unit": "",
                                              "reason": "needs int8"}]}
    base = ws.get(a)
    v = dataclasses.replace(base, card={**base.card, "target_checks": [stored]})  # not stored
    checks = report_data(ws, [v])["variants"][0]["checks"]
    assert checks == [{"target": "edge", "artifact": "onnx-fp32", "passed": False, "proxy": True,
                       "threads": 4, "requirements": [{"name": "int8 weights", "passed": False,
                                                       "measured": "0", "limit": "int8 required",
                                                       "reason": "needs int8"}]}]


def test_bad_input_is_one_line_and_exit_2_and_old_report_is_replaced(report, tmp_path, capsys):
    _, ws, a, _, _ = report
    assert main(["report", "no-such-variant", "--out", str(tmp_path / "r.html"), "-w", str(ws.root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'no-such-variant'" in err[0] and "workbench-cli list" in err[0]
    assert main(["report", a, "--out", str(tmp_path / "missing" / "r.html"), "-w", str(ws.root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and "does not exist" in err[0]
    old = tmp_path / "old.html"
    old.write_text("old report")
    assert main(["report", a, "--out", str(old), "-w", str(ws.root)]) == 0
    assert old.read_text().startswith("<!DOCTYPE html>") and "old report" not in old.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.html"]  # no temp file left
    # a mistyped -w is refused and leaves no empty workspace behind
    assert main(["report", "--out", str(tmp_path / "r.html"), "-w", str(tmp_path / "typo")]) == 2
    assert "no workspace at" in capsys.readouterr().err and not (tmp_path / "typo").exists()


def test_failed_and_cancelled_runs_are_reported_with_why(tmp_path):
    """The lineage workspace (cards written by the store, no jobs): branches, int8 / int4
    files, a failed and a cancelled run without cards."""
    from engine.compare.report_html import write_report
    from tests.engine.compare.lineage_workspace import build

    build(tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    html = write_report(ws, ws.variants(), tmp_path / "r.html").read_text(encoding="utf-8")
    flat = re.sub(r"\s+", " ", html)
    assert re.search(r'prune-bad <span class="badge failed">failed</span>', flat)
    assert '<div class="error">methods[0].amount must be in [0, 1), got 1.5</div>' in html
    assert re.search(r'prune-50-kd-stopped <span class="badge cancelled">cancelled</span>', flat)
    assert len(_images(html)) == 2  # the Pareto plots only: these runs logged no curves
    assert html.count('class="tnode artifact ok"') == 3  # int8's fp32, int8 and int4 files
